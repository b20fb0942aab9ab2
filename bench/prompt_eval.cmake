# Prompt-evaluation speed of optiq's forward pass on the shared models.
add_executable(bench_prompt_eval ${CMAKE_CURRENT_SOURCE_DIR}/prompt_eval_bench.cc)
target_link_libraries(bench_prompt_eval PRIVATE optiq_model benchmark::benchmark)
target_compile_definitions(bench_prompt_eval PRIVATE
  OPTIQ_DEFAULT_SHARED_DIR="${OPTIQ_SHARED_DIR}")
