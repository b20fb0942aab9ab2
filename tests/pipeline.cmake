optiq_test(test_pipeline
  SOURCES test_support.cc pipeline_test.cc
  DEPS optiq_export optiq_eval)
