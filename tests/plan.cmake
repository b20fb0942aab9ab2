optiq_test(test_plan
  SOURCES test_support.cc plan_knapsack_test.cc plan_knapsack_limits_test.cc
          plan_budget_test.cc
  DEPS optiq_plan)
