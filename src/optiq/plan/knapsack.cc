// Input validation, dominance pruning and the solve_knapsack driver.
#include "optiq/plan/knapsack.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "optiq/core/error.h"

namespace optiq {
namespace {

using knapsack_detail::Incumbent;
using knapsack_detail::Option;
using knapsack_detail::ReducedItem;

// Totals above this are rejected so that sums and differences of bytes fit
// in int64_t and convert to double with a relative error below 2^-53.
constexpr uint64_t kMaxTotalBytes = uint64_t{1} << 62;

std::string item_label(const KnapsackItem& item, size_t index) {
  if (item.name.empty()) return fmt::format("knapsack item {}", index);
  return fmt::format("knapsack item {} '{}'", index, item.name);
}

bool is_allowed(const KnapsackItem& item, size_t choice) {
  return item.allowed.empty() || item.allowed[choice];
}

void validate_item(const KnapsackItem& item, size_t index) {
  if (item.choices.empty()) {
    fail("{} has no choices", item_label(item, index));
  }
  if (item.choices.size() > std::numeric_limits<uint16_t>::max()) {
    fail("{} has {} choices; at most {} are supported", item_label(item, index),
         item.choices.size(), std::numeric_limits<uint16_t>::max());
  }
  if (!item.allowed.empty() && item.allowed.size() != item.choices.size()) {
    fail("{} has {} choices but an allowed mask of {} entries",
         item_label(item, index), item.choices.size(), item.allowed.size());
  }
  bool any_allowed = false;
  for (size_t j = 0; j < item.choices.size(); ++j) {
    const double damage = item.choices[j].damage;
    if (!std::isfinite(damage) || damage < 0) {
      fail("{} choice {} has invalid damage {}; expected a finite value >= 0",
           item_label(item, index), j, damage);
    }
    any_allowed = any_allowed || is_allowed(item, j);
  }
  if (!any_allowed) {
    fail("{} has no allowed choice", item_label(item, index));
  }
}

uint64_t add_bytes(uint64_t total, uint64_t bytes) {
  if (bytes > kMaxTotalBytes || total + bytes > kMaxTotalBytes) {
    fail("knapsack byte total exceeds 2^62 bytes");
  }
  return total + bytes;
}

void validate_options(const KnapsackOptions& options) {
  if (!(options.relative_tolerance >= 0 && options.relative_tolerance < 1)) {
    fail("invalid knapsack relative_tolerance {}; expected a value in [0, 1)",
         options.relative_tolerance);
  }
  if (!(options.absolute_tolerance >= 0) ||
      !std::isfinite(options.absolute_tolerance)) {
    fail("invalid knapsack absolute_tolerance {}; expected a finite value >= 0",
         options.absolute_tolerance);
  }
  if (!(options.time_limit_seconds >= 0)) {
    fail("invalid knapsack time_limit_seconds {}; expected a value >= 0",
         options.time_limit_seconds);
  }
}

std::chrono::steady_clock::time_point deadline_after(
    std::chrono::steady_clock::time_point start, double seconds) {
  // Limits beyond a year are treated as no limit, which also avoids
  // overflowing the clock's representation.
  if (seconds <= 0 || seconds > 3.2e7) {
    return std::chrono::steady_clock::time_point::max();
  }
  return start + std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::duration<double>(seconds));
}

}  // namespace

ByteRange achievable_byte_range(const KnapsackProblem& problem) {
  ByteRange range;
  range.min_bytes = add_bytes(0, problem.fixed_bytes);
  range.max_bytes = range.min_bytes;
  for (size_t i = 0; i < problem.items.size(); ++i) {
    const KnapsackItem& item = problem.items[i];
    validate_item(item, i);
    uint64_t smallest = std::numeric_limits<uint64_t>::max();
    uint64_t largest = 0;
    for (size_t j = 0; j < item.choices.size(); ++j) {
      if (!is_allowed(item, j)) continue;
      smallest = std::min(smallest, item.choices[j].bytes);
      largest = std::max(largest, item.choices[j].bytes);
    }
    range.min_bytes = add_bytes(range.min_bytes, smallest);
    range.max_bytes = add_bytes(range.max_bytes, largest);
  }
  return range;
}

namespace knapsack_detail {

std::vector<ReducedItem> reduce_items(const KnapsackProblem& problem) {
  std::vector<ReducedItem> reduced(problem.items.size());
  std::vector<Option> sorted;
  std::vector<int64_t> x;
  std::vector<double> y;
  for (size_t i = 0; i < problem.items.size(); ++i) {
    const KnapsackItem& item = problem.items[i];
    validate_item(item, i);
    sorted.clear();
    for (size_t j = 0; j < item.choices.size(); ++j) {
      if (!is_allowed(item, j)) continue;
      sorted.push_back({item.choices[j].bytes, item.choices[j].damage,
                        static_cast<uint32_t>(j)});
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const Option& a, const Option& b) {
                if (a.bytes != b.bytes) return a.bytes < b.bytes;
                if (a.damage != b.damage) return a.damage < b.damage;
                return a.choice < b.choice;
              });
    // Keep a choice only if it is strictly less damaging than every
    // choice with fewer or equal bytes.
    ReducedItem& out = reduced[i];
    for (const Option& option : sorted) {
      if (out.options.empty() || option.damage < out.options.back().damage) {
        out.options.push_back(option);
      }
    }
    x.clear();
    y.clear();
    for (const Option& option : out.options) {
      x.push_back(static_cast<int64_t>(option.bytes));
      y.push_back(option.damage);
    }
    lower_convex_hull(x, y, out.hull);
  }
  return reduced;
}

void lower_convex_hull(const std::vector<int64_t>& x,
                       const std::vector<double>& y,
                       std::vector<uint32_t>& hull) {
  // Efficiency of the segment a -> b: damage saved per extra byte. A vertex
  // b stays only if the efficiency strictly drops there. The same formula
  // is used wherever efficiencies are compared, so the kept efficiencies
  // are strictly decreasing as computed, not only in exact arithmetic.
  auto efficiency = [&](uint32_t a, uint32_t b) {
    return (y[a] - y[b]) / static_cast<double>(x[b] - x[a]);
  };
  const size_t start = hull.size();
  for (uint32_t p = 0; p < x.size(); ++p) {
    while (hull.size() >= start + 2) {
      const uint32_t a = hull[hull.size() - 2];
      const uint32_t b = hull.back();
      if (efficiency(a, b) > efficiency(b, p)) break;
      hull.pop_back();
    }
    hull.push_back(p);
  }
}

}  // namespace knapsack_detail

KnapsackSolution solve_knapsack(const KnapsackProblem& problem,
                                const KnapsackOptions& options) {
  using knapsack_detail::CoreResult;
  using knapsack_detail::LpRelaxation;

  const auto start = std::chrono::steady_clock::now();
  validate_options(options);
  const ByteRange range = achievable_byte_range(problem);
  if (problem.budget_bytes < range.min_bytes) {
    fail(
        "knapsack budget of {} bytes is infeasible: achievable totals range "
        "from {} to {} bytes (including {} fixed bytes)",
        problem.budget_bytes, range.min_bytes, range.max_bytes,
        problem.fixed_bytes);
  }
  const std::vector<ReducedItem> items = knapsack_detail::reduce_items(problem);
  // No plan uses more than range.max_bytes, so the clamp changes nothing
  // but keeps every byte count below 2^62.
  const uint64_t capacity =
      std::min(problem.budget_bytes, range.max_bytes) - problem.fixed_bytes;

  const LpRelaxation lp = knapsack_detail::solve_lp_relaxation(items, capacity);
  Incumbent incumbent = knapsack_detail::round_lp_solution(items, lp, capacity);
  const CoreResult core = knapsack_detail::search_core(
      items, lp, std::move(incumbent), options,
      deadline_after(start, options.time_limit_seconds));

  KnapsackSolution solution;
  solution.choices.resize(items.size());
  solution.total_bytes = problem.fixed_bytes;
  for (size_t i = 0; i < items.size(); ++i) {
    const Option& option = items[i].options[core.best.positions[i]];
    solution.choices[i] = option.choice;
    solution.total_bytes += option.bytes;
    solution.damage += option.damage;
  }
  OPTIQ_ASSERT(solution.total_bytes <= problem.budget_bytes);
  solution.lp_bound = lp.bound;
  // The bound can exceed the recomputed damage only by rounding.
  solution.lower_bound = std::min(core.lower_bound, solution.damage);
  solution.gap = solution.damage - solution.lower_bound;
  solution.nodes = core.nodes;
  solution.core_items = core.core_items;
  solution.proven_optimal = core.proven_optimal;
  solution.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return solution;
}

}  // namespace optiq
