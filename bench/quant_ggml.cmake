add_executable(bench_quant_ggml ${CMAKE_CURRENT_SOURCE_DIR}/quant_ggml_bench.cc)
target_link_libraries(bench_quant_ggml PRIVATE optiq_quant_ggml benchmark::benchmark)
