# optiq_make_model: writes a random-weight Hugging Face Llama checkpoint for
# bench/memory.sh.
add_executable(optiq_make_model ${CMAKE_CURRENT_SOURCE_DIR}/make_model.cc)
target_link_libraries(optiq_make_model PRIVATE optiq_io optiq_core
  nlohmann_json::nlohmann_json CLI11::CLI11)
