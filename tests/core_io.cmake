optiq_test(test_core_io
  SOURCES test_support.cc half_test.cc safetensors_test.cc safetensors_broken_test.cc
  DEPS optiq_io)
