optiq_test(test_model
  SOURCES test_support.cc generate_golden_test.cc llama2c_loader_test.cc forward_test.cc
  DEPS optiq_eval)
optiq_test(test_model_slow
  SOURCES test_support.cc perplexity_test.cc
  DEPS optiq_eval
  LABELS slow)
