optiq_test(test_model_variants
  SOURCES test_support.cc checkpoint_writer.cc model_variants_test.cc
          rope_scaling_test.cc
  DEPS optiq_model)
