optiq_test(test_tokenizer_cli
  SOURCES test_support.cc tokenizer_cli_test.cc tokenizer_gguf_test.cc
  DEPS optiq_tokenizer optiq_gguf)
# Installs Hugging Face's tokenizers from npm and compares with it.
optiq_test(test_tokenizer_golden
  SOURCES test_support.cc tokenizer_golden_test.cc
  DEPS optiq_tokenizer
  LABELS slow)
