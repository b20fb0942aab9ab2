optiq_test(test_gguf_export
  SOURCES test_support.cc gguf_export_test.cc
  DEPS optiq_export optiq_gguf)
