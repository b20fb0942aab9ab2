optiq_test(test_io_gguf
  SOURCES test_support.cc io_gguf_vocab_test.cc io_gguf_roundtrip_test.cc
          io_gguf_broken_test.cc
  DEPS optiq_gguf PkgConfig::SENTENCEPIECE)
