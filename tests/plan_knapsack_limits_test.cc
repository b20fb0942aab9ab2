// Knapsack solver on larger instances: cross-check against a dynamic program
// over capacity, and the node and time limits.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "optiq/plan/knapsack.h"

namespace optiq {
namespace {

// Minimum damage within budget by the textbook dynamic program over total
// bytes (bytes must be small integers). Returns +inf if nothing fits.
double capacity_dp_optimum(const KnapsackProblem& problem) {
  const uint64_t capacity = problem.budget_bytes - problem.fixed_bytes;
  std::vector<double> best(capacity + 1, 0.0);  // items so far, bytes <= c
  std::vector<double> next(capacity + 1);
  for (const KnapsackItem& item : problem.items) {
    for (uint64_t c = 0; c <= capacity; ++c) {
      double value = HUGE_VAL;
      for (size_t j = 0; j < item.choices.size(); ++j) {
        if (!item.allowed.empty() && !item.allowed[j]) continue;
        const uint64_t bytes = item.choices[j].bytes;
        if (bytes > c) continue;
        value = std::min(value, best[c - bytes] + item.choices[j].damage);
      }
      next[c] = value;
    }
    best.swap(next);
  }
  return best[capacity];
}

// Medium random instances. Mode 0: damage falls roughly exponentially with
// bytes, as for quantization formats; mode 1: damage unrelated to bytes.
KnapsackProblem medium_problem(std::mt19937_64& rng, int mode) {
  std::uniform_int_distribution<int> item_count(30, 80);
  std::uniform_int_distribution<int> choice_count(1, 8);
  std::uniform_int_distribution<int> size(1, 6);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::bernoulli_distribution coin(0.1);
  KnapsackProblem problem;
  problem.items.resize(item_count(rng));
  for (KnapsackItem& item : problem.items) {
    const int choices = choice_count(rng);
    const int tensor = size(rng);
    const double sensitivity = std::exp(3 * unit(rng));
    for (int j = 0; j < choices; ++j) {
      const int bits = 2 + j;
      KnapsackChoice choice;
      choice.bytes = static_cast<uint64_t>(bits * tensor);
      choice.damage =
          mode == 0 ? sensitivity * std::exp2(-bits) * (0.7 + 0.6 * unit(rng))
                    : 10 * unit(rng);
      item.choices.push_back(choice);
    }
    if (coin(rng)) {
      item.allowed.assign(choices, false);
      item.allowed[choices - 1] = true;
    }
  }
  return problem;
}

void check_against_dp(const KnapsackProblem& problem, int trial) {
  SCOPED_TRACE(testing::Message()
               << "trial " << trial << " budget " << problem.budget_bytes);
  const double optimum = capacity_dp_optimum(problem);
  ASSERT_TRUE(std::isfinite(optimum));
  const KnapsackSolution s = solve_knapsack(problem);
  EXPECT_LE(s.total_bytes, problem.budget_bytes);
  // The two methods sum damages in different orders.
  const double tolerance = 1e-9 * optimum + 1e-12;
  EXPECT_NEAR(s.damage, optimum, tolerance);
  EXPECT_LE(s.lp_bound, optimum + tolerance);
  EXPECT_LE(s.lower_bound, optimum + tolerance);
  EXPECT_TRUE(s.proven_optimal);
}

TEST(KnapsackLimits, MatchesCapacityDp) {
  std::mt19937_64 rng(77);
  for (int trial = 0; trial < 80; ++trial) {
    KnapsackProblem problem = medium_problem(rng, trial % 2);
    const ByteRange range = achievable_byte_range(problem);
    for (double fraction : {0.0, 0.03, 0.2, 0.5, 0.8, 0.97, 1.0}) {
      problem.budget_bytes =
          range.min_bytes +
          static_cast<uint64_t>(fraction * (range.max_bytes - range.min_bytes));
      check_against_dp(problem, trial);
    }
    if (HasFailure()) return;
  }
}

// Two choices per item with damage exactly proportional to bytes: every
// choice has the same efficiency, so the LP cannot fix any item and the
// search degenerates into subset sum.
KnapsackProblem subset_sum_problem(int items, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint64_t> bytes(1000, 100'000);
  KnapsackProblem problem;
  uint64_t total = 0;
  for (int i = 0; i < items; ++i) {
    const uint64_t b = bytes(rng);
    KnapsackItem item;
    item.choices = {{0, 1e-6 * static_cast<double>(b)}, {b, 0.0}};
    problem.items.push_back(item);
    total += b;
  }
  problem.budget_bytes = total / 2 + 1;
  return problem;
}

TEST(KnapsackLimits, NodeLimitKeepsValidBound) {
  const KnapsackProblem problem = subset_sum_problem(20, 5);
  const double optimum = capacity_dp_optimum(problem);
  const KnapsackSolution full = solve_knapsack(problem);
  ASSERT_TRUE(full.proven_optimal);
  EXPECT_NEAR(full.damage, optimum, 1e-12);
  ASSERT_GT(full.nodes, 20u);

  KnapsackOptions options;
  options.max_nodes = full.nodes / 4;
  const KnapsackSolution limited = solve_knapsack(problem, options);
  EXPECT_FALSE(limited.proven_optimal);
  EXPECT_LE(limited.nodes, options.max_nodes);
  EXPECT_LE(limited.total_bytes, problem.budget_bytes);
  EXPECT_GE(limited.damage, optimum - 1e-12);
  EXPECT_LE(limited.lower_bound, optimum + 1e-12);
  EXPECT_GE(limited.lower_bound, limited.lp_bound - 1e-12);
  EXPECT_DOUBLE_EQ(limited.gap, limited.damage - limited.lower_bound);
}

TEST(KnapsackLimits, TimeLimitStopsSearch) {
  const KnapsackProblem problem = subset_sum_problem(400, 9);
  KnapsackOptions options;
  options.time_limit_seconds = 1e-6;
  const KnapsackSolution limited = solve_knapsack(problem, options);
  EXPECT_FALSE(limited.proven_optimal);
  EXPECT_LE(limited.total_bytes, problem.budget_bytes);
  EXPECT_LE(limited.lower_bound, limited.damage);
  EXPECT_GE(limited.lower_bound, limited.lp_bound - 1e-12);
}

}  // namespace
}  // namespace optiq
