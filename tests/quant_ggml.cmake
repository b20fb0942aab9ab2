optiq_test(test_quant_ggml
  SOURCES test_support.cc quant_ggml_types_test.cc quant_ggml_layout_test.cc
          quant_ggml_quality_test.cc quant_ggml_validation_test.cc
  DEPS optiq_quant_ggml optiq_io)
