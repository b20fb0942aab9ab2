# Loads optiq's GGUF exports with the real llama.cpp (node-llama-cpp from
# npm) and compares its outputs with optiq's. Needs npm and the registry;
# skips otherwise.
optiq_test(test_llamacpp_check
  SOURCES test_support.cc llamacpp_check_test.cc
  DEPS optiq_export optiq_gguf nlohmann_json::nlohmann_json
  LABELS slow)
