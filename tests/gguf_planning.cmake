optiq_test(test_gguf_planning
  SOURCES test_support.cc checkpoint_writer.cc gguf_recipes_test.cc
          gguf_profile_test.cc gguf_loader_test.cc
  DEPS optiq_export optiq_plan optiq_profile optiq_gguf)
