// Knapsack solver against hand-computed cases and exhaustive search.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "optiq/core/error.h"
#include "optiq/plan/knapsack.h"

namespace optiq {
namespace {

KnapsackItem make_item(std::vector<KnapsackChoice> choices) {
  KnapsackItem item;
  item.choices = std::move(choices);
  return item;
}

// Three items whose optimum is easy to find by hand. Item 0 also has a
// dominated choice (25 B, 3.0) and an exact duplicate of choice 1.
KnapsackProblem hand_problem(uint64_t budget) {
  KnapsackProblem problem;
  problem.items.push_back(
      make_item({{10, 5.0}, {20, 2.0}, {30, 1.5}, {25, 3.0}, {20, 2.0}}));
  problem.items.push_back(make_item({{10, 4.0}, {20, 1.0}}));
  problem.items.push_back(make_item({{5, 3.0}, {15, 0.5}}));
  problem.budget_bytes = budget;
  return problem;
}

TEST(Knapsack, HandCaseTightBudget) {
  // 20 spare bytes: upgrading items 0 and 1 saves 3 + 3 = 6.
  const KnapsackSolution s = solve_knapsack(hand_problem(45));
  EXPECT_EQ(s.choices, (std::vector<uint32_t>{1, 1, 0}));
  EXPECT_EQ(s.total_bytes, 45u);
  EXPECT_DOUBLE_EQ(s.damage, 6.0);
  EXPECT_DOUBLE_EQ(s.lp_bound, 6.0);
  EXPECT_TRUE(s.proven_optimal);
}

TEST(Knapsack, HandCaseFractionalLp) {
  // 25 spare bytes: the LP also takes half of item 2's step (saving 1.25),
  // but no integral plan can use the last 5 bytes.
  const KnapsackSolution s = solve_knapsack(hand_problem(50));
  EXPECT_EQ(s.choices, (std::vector<uint32_t>{1, 1, 0}));
  EXPECT_EQ(s.total_bytes, 45u);
  EXPECT_DOUBLE_EQ(s.damage, 6.0);
  EXPECT_DOUBLE_EQ(s.lp_bound, 4.75);
  EXPECT_DOUBLE_EQ(s.lower_bound, 6.0);
  EXPECT_DOUBLE_EQ(s.gap, 0.0);
  EXPECT_TRUE(s.proven_optimal);
}

TEST(Knapsack, HandCaseRoomyBudget) {
  const KnapsackSolution s = solve_knapsack(hand_problem(55));
  EXPECT_EQ(s.choices, (std::vector<uint32_t>{1, 1, 1}));
  EXPECT_DOUBLE_EQ(s.damage, 3.5);
  // Everything fits: each item gets its least damaging choice.
  const KnapsackSolution all = solve_knapsack(hand_problem(1000));
  EXPECT_EQ(all.choices, (std::vector<uint32_t>{2, 1, 1}));
  EXPECT_DOUBLE_EQ(all.damage, 3.0);
  EXPECT_EQ(all.total_bytes, 65u);
  const KnapsackSolution unlimited =
      solve_knapsack(hand_problem(std::numeric_limits<uint64_t>::max()));
  EXPECT_EQ(unlimited.choices, all.choices);
}

TEST(Knapsack, FixedBytesCountAgainstBudget) {
  KnapsackProblem problem = hand_problem(55);
  problem.fixed_bytes = 10;
  const KnapsackSolution s = solve_knapsack(problem);
  EXPECT_EQ(s.choices, (std::vector<uint32_t>{1, 1, 0}));
  EXPECT_EQ(s.total_bytes, 55u);
}

TEST(Knapsack, AllowedMaskRestrictsChoices) {
  KnapsackProblem problem = hand_problem(55);
  problem.items[1].allowed = {true, false};
  const KnapsackSolution s = solve_knapsack(problem);
  // 30 spare bytes without item 1: item 0 to 30 B and item 2 to 15 B.
  EXPECT_EQ(s.choices, (std::vector<uint32_t>{2, 0, 1}));
  EXPECT_DOUBLE_EQ(s.damage, 6.0);
}

TEST(Knapsack, SingleChoiceItems) {
  KnapsackProblem problem;
  problem.items.push_back(make_item({{7, 1.5}}));
  problem.items.push_back(make_item({{3, 0.25}}));
  problem.budget_bytes = 10;
  const KnapsackSolution s = solve_knapsack(problem);
  EXPECT_EQ(s.choices, (std::vector<uint32_t>{0, 0}));
  EXPECT_EQ(s.total_bytes, 10u);
  EXPECT_DOUBLE_EQ(s.damage, 1.75);
  EXPECT_TRUE(s.proven_optimal);
  EXPECT_EQ(s.nodes, 0u);
}

TEST(Knapsack, NoItems) {
  KnapsackProblem problem;
  problem.fixed_bytes = 100;
  problem.budget_bytes = 100;
  const KnapsackSolution s = solve_knapsack(problem);
  EXPECT_TRUE(s.choices.empty());
  EXPECT_EQ(s.total_bytes, 100u);
  EXPECT_EQ(s.damage, 0.0);
  EXPECT_TRUE(s.proven_optimal);
}

TEST(Knapsack, InfeasibleBudgetNamesRange) {
  KnapsackProblem problem = hand_problem(24);
  problem.fixed_bytes = 0;
  try {
    solve_knapsack(problem);
    FAIL() << "expected optiq::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("24 bytes"), std::string::npos) << message;
    EXPECT_NE(message.find("from 25 to 65 bytes"), std::string::npos)
        << message;
  }
  problem.fixed_bytes = 30;
  problem.budget_bytes = 54;
  EXPECT_THROW(solve_knapsack(problem), Error);
  problem.budget_bytes = 55;
  EXPECT_NO_THROW(solve_knapsack(problem));
}

TEST(Knapsack, BudgetBelowFixedBytes) {
  KnapsackProblem problem;
  problem.fixed_bytes = 100;
  problem.budget_bytes = 99;
  EXPECT_THROW(solve_knapsack(problem), Error);
}

TEST(Knapsack, InvalidItemsRejected) {
  KnapsackProblem empty_item = hand_problem(100);
  empty_item.items[1].choices.clear();
  EXPECT_THROW(solve_knapsack(empty_item), Error);

  KnapsackProblem none_allowed = hand_problem(100);
  none_allowed.items[1].allowed = {false, false};
  EXPECT_THROW(solve_knapsack(none_allowed), Error);

  KnapsackProblem bad_mask = hand_problem(100);
  bad_mask.items[1].allowed = {true};
  EXPECT_THROW(solve_knapsack(bad_mask), Error);

  for (double bad : {-1.0, std::nan(""), HUGE_VAL}) {
    KnapsackProblem bad_damage = hand_problem(100);
    bad_damage.items[2].name = "blk.0.ffn_down.weight";
    bad_damage.items[2].choices[1].damage = bad;
    try {
      solve_knapsack(bad_damage);
      FAIL() << "expected optiq::Error for damage " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("blk.0.ffn_down.weight"),
                std::string::npos)
          << e.what();
    }
  }

  KnapsackProblem huge = hand_problem(100);
  huge.items[0].choices[0].bytes = uint64_t{1} << 63;
  EXPECT_THROW(solve_knapsack(huge), Error);
}

TEST(Knapsack, InvalidOptionsRejected) {
  KnapsackOptions options;
  options.relative_tolerance = -1;
  EXPECT_THROW(solve_knapsack(hand_problem(50), options), Error);
  options = {};
  options.absolute_tolerance = std::nan("");
  EXPECT_THROW(solve_knapsack(hand_problem(50), options), Error);
  options = {};
  options.time_limit_seconds = -1;
  EXPECT_THROW(solve_knapsack(hand_problem(50), options), Error);
}

TEST(Knapsack, ByteRange) {
  KnapsackProblem problem = hand_problem(0);
  problem.fixed_bytes = 3;
  problem.items[0].allowed = {false, true, false, true, true};
  const ByteRange range = achievable_byte_range(problem);
  EXPECT_EQ(range.min_bytes, 3u + 20 + 10 + 5);
  EXPECT_EQ(range.max_bytes, 3u + 25 + 20 + 15);
}

TEST(Knapsack, HugeByteCounts) {
  // Tensors of billions of bytes: 5e9 spare bytes fit exactly one upgrade.
  KnapsackProblem problem;
  const uint64_t g = 1000'000'000;
  problem.items.push_back(make_item({{4 * g, 3.0}, {8 * g, 1.0}}));
  problem.items.push_back(make_item({{4 * g, 2.5}, {9 * g, 0.1}}));
  problem.items.push_back(make_item({{4 * g, 2.0}, {8 * g, 0.2}}));
  problem.budget_bytes = 17 * g;
  const KnapsackSolution s = solve_knapsack(problem);
  EXPECT_EQ(s.choices, (std::vector<uint32_t>{0, 1, 0}));
  EXPECT_EQ(s.total_bytes, 17 * g);
  EXPECT_DOUBLE_EQ(s.damage, 5.1);
}

TEST(Knapsack, LpRelaxationAndRounding) {
  // Steps by efficiency: A (10 B, saves 10), C (4 B, saves 2.4), then B
  // (10 B, saves 5) no longer fits in 22 B and is taken for 8/10.
  KnapsackProblem problem;
  problem.items.push_back(make_item({{0, 10.0}, {10, 0.0}}));  // A
  problem.items.push_back(make_item({{0, 10.0}, {10, 5.0}}));  // B
  problem.items.push_back(make_item({{0, 10.0}, {4, 7.6}}));   // C
  problem.budget_bytes = 22;
  const auto items = knapsack_detail::reduce_items(problem);
  const auto lp = knapsack_detail::solve_lp_relaxation(items, 22);
  EXPECT_EQ(lp.reference, (std::vector<uint32_t>{1, 0, 1}));
  EXPECT_EQ(lp.fractional, 1);
  EXPECT_DOUBLE_EQ(lp.lambda, 0.5);
  EXPECT_EQ(lp.residual, 8u);
  EXPECT_DOUBLE_EQ(lp.reference_damage, 17.6);
  EXPECT_DOUBLE_EQ(lp.bound, 13.6);
  // Rounding up takes B whole (24 B) and must then undo the least
  // efficient step, C's, to reach the optimum A + B.
  const auto rounded = knapsack_detail::round_lp_solution(items, lp, 22);
  EXPECT_EQ(rounded.positions, (std::vector<uint32_t>{1, 1, 0}));
  EXPECT_DOUBLE_EQ(rounded.damage, 15.0);
  const KnapsackSolution s = solve_knapsack(problem);
  EXPECT_DOUBLE_EQ(s.damage, 15.0);
  EXPECT_DOUBLE_EQ(s.lp_bound, 13.6);
}

// Exhaustive search: the minimum damage over all plans within budget, with
// damages summed in item order as the solver does; +inf if none fits.
double exhaustive_optimum(const KnapsackProblem& problem) {
  const size_t n = problem.items.size();
  std::vector<size_t> pick(n, 0);
  double best = INFINITY;
  for (;;) {
    uint64_t bytes = problem.fixed_bytes;
    double damage = 0;
    bool allowed = true;
    for (size_t i = 0; i < n; ++i) {
      const KnapsackItem& item = problem.items[i];
      if (!item.allowed.empty() && !item.allowed[pick[i]]) allowed = false;
      bytes += item.choices[pick[i]].bytes;
      damage += item.choices[pick[i]].damage;
    }
    if (allowed && bytes <= problem.budget_bytes) best = std::min(best, damage);
    size_t i = 0;
    while (i < n && ++pick[i] == problem.items[i].choices.size()) pick[i++] = 0;
    if (i == n) return best;
  }
}

// Small random instances. Mode 0 draws small integers (many ties and
// dominated choices), mode 1 real damages, mode 2 billions of bytes.
KnapsackProblem random_problem(std::mt19937_64& rng, int mode) {
  std::uniform_int_distribution<int> item_count(2, 7);
  std::uniform_int_distribution<int> choice_count(1, 5);
  std::uniform_int_distribution<int> small(0, 12);
  std::uniform_real_distribution<double> real(0.0, 10.0);
  std::bernoulli_distribution coin(0.2);
  KnapsackProblem problem;
  problem.items.resize(item_count(rng));
  for (KnapsackItem& item : problem.items) {
    item.choices.resize(choice_count(rng));
    for (KnapsackChoice& choice : item.choices) {
      choice.bytes = static_cast<uint64_t>(small(rng));
      if (mode == 2) choice.bytes = choice.bytes * 997'000'001 + small(rng);
      choice.damage = mode == 0 ? small(rng) * 0.5 : real(rng);
    }
    if (coin(rng)) {
      item.allowed.resize(item.choices.size());
      bool any = false;
      for (size_t j = 0; j < item.allowed.size(); ++j) {
        item.allowed[j] = !coin(rng);
        any = any || item.allowed[j];
      }
      if (!any) item.allowed[item.choices.size() - 1] = true;
    }
  }
  if (coin(rng)) problem.fixed_bytes = small(rng);
  return problem;
}

void check_against_exhaustive(const KnapsackProblem& problem, int trial) {
  const double optimum = exhaustive_optimum(problem);
  SCOPED_TRACE(testing::Message()
               << "trial " << trial << " budget " << problem.budget_bytes);
  ASSERT_TRUE(std::isfinite(optimum));
  const KnapsackSolution s = solve_knapsack(problem);
  ASSERT_EQ(s.choices.size(), problem.items.size());
  uint64_t bytes = problem.fixed_bytes;
  double damage = 0;
  for (size_t i = 0; i < problem.items.size(); ++i) {
    const KnapsackItem& item = problem.items[i];
    ASSERT_LT(s.choices[i], item.choices.size());
    ASSERT_TRUE(item.allowed.empty() || item.allowed[s.choices[i]]);
    bytes += item.choices[s.choices[i]].bytes;
    damage += item.choices[s.choices[i]].damage;
  }
  EXPECT_EQ(s.total_bytes, bytes);
  EXPECT_LE(s.total_bytes, problem.budget_bytes);
  EXPECT_EQ(s.damage, damage);
  const double tolerance = 1e-9 * optimum + 1e-12;
  EXPECT_GE(s.damage, optimum);
  EXPECT_LE(s.damage, optimum + tolerance);
  EXPECT_LE(s.lp_bound, optimum + tolerance);
  EXPECT_LE(s.lower_bound, optimum + tolerance);
  EXPECT_GE(s.lower_bound, s.lp_bound - tolerance);
  EXPECT_LE(s.gap, tolerance);
  EXPECT_TRUE(s.proven_optimal);
}

TEST(Knapsack, MatchesExhaustiveSearch) {
  std::mt19937_64 rng(20240611);
  int checked = 0;
  for (int trial = 0; trial < 600; ++trial) {
    KnapsackProblem problem = random_problem(rng, trial % 3);
    const ByteRange range = achievable_byte_range(problem);
    // The exact extremes, one byte below the minimum, and points between.
    problem.budget_bytes = range.min_bytes;
    check_against_exhaustive(problem, trial);
    problem.budget_bytes = range.max_bytes;
    check_against_exhaustive(problem, trial);
    std::uniform_int_distribution<uint64_t> inside(range.min_bytes,
                                                   range.max_bytes);
    for (int k = 0; k < 3; ++k) {
      problem.budget_bytes = inside(rng);
      check_against_exhaustive(problem, trial);
    }
    checked += 5;
    if (range.min_bytes > 0) {
      problem.budget_bytes = range.min_bytes - 1;
      EXPECT_THROW(solve_knapsack(problem), Error) << "trial " << trial;
    }
    if (HasFailure()) return;
  }
  EXPECT_EQ(checked, 3000);
}

TEST(Knapsack, SameInputsSamePlan) {
  // Many exact ties: identical items with damage proportional to bytes.
  KnapsackProblem problem;
  for (int i = 0; i < 300; ++i) {
    problem.items.push_back(
        make_item({{100, 8.0}, {200, 4.0}, {300, 2.0}, {300, 2.0}}));
  }
  problem.budget_bytes = 300 * 200 + 12'345;
  const KnapsackSolution first = solve_knapsack(problem);
  const KnapsackSolution second = solve_knapsack(KnapsackProblem(problem));
  EXPECT_EQ(first.choices, second.choices);
  EXPECT_EQ(first.damage, second.damage);
  EXPECT_EQ(first.nodes, second.nodes);
  EXPECT_TRUE(first.proven_optimal);
  // Among equal choices the lower index is used.
  for (uint32_t choice : first.choices) EXPECT_NE(choice, 3u);
  // 123 items can move from 200 to 300 bytes, each saving 2.0.
  EXPECT_DOUBLE_EQ(first.damage, 300 * 4.0 - 123 * 2.0);
}

}  // namespace
}  // namespace optiq
