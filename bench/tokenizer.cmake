add_executable(tokenizer_bench tokenizer_bench.cc)
target_link_libraries(tokenizer_bench PRIVATE optiq_tokenizer_hf benchmark::benchmark)
target_compile_definitions(tokenizer_bench PRIVATE
  OPTIQ_DEFAULT_SHARED_DIR="${OPTIQ_SHARED_DIR}")
