optiq_test(test_tokenizer_hf
  SOURCES test_support.cc tokenizer_hf_vectors_test.cc
          tokenizer_hf_load_test.cc tokenizer_hf_units_test.cc
          tokenizer_hf_gguf_test.cc
  DEPS optiq_tokenizer_hf optiq_gguf)
