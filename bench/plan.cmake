add_executable(plan_bench plan_bench.cc)
target_link_libraries(plan_bench PRIVATE optiq_plan benchmark::benchmark)
