// LP relaxation of the multiple-choice knapsack and its rounding.
//
// The LP relaxation of a multiple-choice knapsack is solved exactly by the
// greedy of Sinha & Zoltners (1979). Every item starts at its smallest hull
// vertex. Hull steps are then taken by decreasing efficiency (damage saved
// per extra byte) while they fit. The first step that does not fit is taken
// fractionally, and its efficiency is the LP price lambda. Only the
// position of that step in the order matters, so a weighted quickselect
// finds it in expected linear time instead of sorting all steps.
#include <algorithm>
#include <queue>

#include "optiq/core/error.h"
#include "optiq/plan/knapsack.h"

namespace optiq::knapsack_detail {
namespace {

// Move of one item from hull vertex step - 1 to hull vertex step.
struct HullStep {
  double efficiency;  // gain / bytes
  int64_t bytes;      // extra bytes, > 0
  double gain;        // damage saved, > 0
  uint32_t item;
  uint32_t step;
};

// The greedy order: most efficient first, ties to the lower item index and
// then the lower step. A strict total order that keeps each item's steps in
// hull order, because lower_convex_hull makes their efficiencies strictly
// decreasing.
bool comes_before(const HullStep& a, const HullStep& b) {
  if (a.efficiency != b.efficiency) return a.efficiency > b.efficiency;
  if (a.item != b.item) return a.item < b.item;
  return a.step < b.step;
}

HullStep hull_step(const ReducedItem& item, uint32_t index, uint32_t t) {
  const Option& from = item.options[item.hull[t - 1]];
  const Option& to = item.options[item.hull[t]];
  const auto bytes = static_cast<int64_t>(to.bytes - from.bytes);
  const double gain = from.damage - to.damage;
  return {gain / static_cast<double>(bytes), bytes, gain, index, t};
}

std::vector<HullStep> all_hull_steps(const std::vector<ReducedItem>& items) {
  std::vector<HullStep> steps;
  for (uint32_t i = 0; i < items.size(); ++i) {
    for (uint32_t t = 1; t < items[i].hull.size(); ++t) {
      steps.push_back(hull_step(items[i], i, t));
    }
  }
  return steps;
}

// Reorders steps so that steps[0, k) are the first k steps in greedy order
// (in no particular order among themselves) and steps[k] is the first step
// whose bytes do not fit in capacity after them. Returns k, or steps.size()
// if all steps fit. Deterministic: pivots are medians of three positions.
size_t select_break_step(std::vector<HullStep>& steps, uint64_t capacity) {
  size_t lo = 0;
  size_t hi = steps.size();
  uint64_t used = 0;  // bytes of steps[0, lo)
  while (lo < hi) {
    // Median of the first, middle and last step as the pivot, moved to the
    // end of the range.
    size_t a = lo, b = lo + (hi - lo) / 2, c = hi - 1;
    if (comes_before(steps[b], steps[a])) std::swap(a, b);
    if (comes_before(steps[c], steps[b])) std::swap(b, c);
    if (comes_before(steps[b], steps[a])) std::swap(a, b);
    std::swap(steps[b], steps[hi - 1]);
    const HullStep pivot = steps[hi - 1];
    const auto middle = std::partition(
        steps.begin() + lo, steps.begin() + hi - 1,
        [&](const HullStep& s) { return comes_before(s, pivot); });
    const size_t m = middle - steps.begin();
    std::swap(steps[m], steps[hi - 1]);

    uint64_t before = 0;
    for (size_t s = lo; s < m; ++s) before += steps[s].bytes;
    if (used + before > capacity) {
      hi = m;
    } else if (used + before + steps[m].bytes > capacity) {
      return m;
    } else {
      used += before + steps[m].bytes;
      lo = m + 1;
    }
  }
  return lo;
}

double plan_damage(const std::vector<ReducedItem>& items,
                   const std::vector<uint32_t>& positions) {
  double damage = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    damage += items[i].options[positions[i]].damage;
  }
  return damage;
}

uint64_t plan_bytes(const std::vector<ReducedItem>& items,
                    const std::vector<uint32_t>& positions) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    bytes += items[i].options[positions[i]].bytes;
  }
  return bytes;
}

uint32_t hull_index(const ReducedItem& item, uint32_t position) {
  const auto it = std::find(item.hull.begin(), item.hull.end(), position);
  OPTIQ_ASSERT(it != item.hull.end());
  return static_cast<uint32_t>(it - item.hull.begin());
}

// Spends the residual capacity by repeatedly applying the single-item change
// that saves the most damage and still fits. Bounded by a fixed number of
// rounds because it only seeds the exact search.
void fill_residual(const std::vector<ReducedItem>& items,
                   std::vector<uint32_t>& positions, uint64_t residual) {
  constexpr int kMaxRounds = 32;
  for (int round = 0; round < kMaxRounds; ++round) {
    double best_gain = 0;
    size_t best_item = items.size();
    uint32_t best_position = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const std::vector<Option>& options = items[i].options;
      const Option& current = options[positions[i]];
      for (uint32_t q = positions[i] + 1; q < options.size(); ++q) {
        if (options[q].bytes - current.bytes > residual) break;
        const double gain = current.damage - options[q].damage;
        if (gain > best_gain) {
          best_gain = gain;
          best_item = i;
          best_position = q;
        }
      }
    }
    if (best_item == items.size()) return;
    const std::vector<Option>& options = items[best_item].options;
    residual -=
        options[best_position].bytes - options[positions[best_item]].bytes;
    positions[best_item] = best_position;
  }
}

}  // namespace

LpRelaxation solve_lp_relaxation(const std::vector<ReducedItem>& items,
                                 uint64_t capacity) {
  LpRelaxation lp;
  lp.reference.resize(items.size());
  for (size_t i = 0; i < items.size(); ++i) lp.reference[i] = items[i].hull[0];
  const uint64_t used = plan_bytes(items, lp.reference);
  OPTIQ_ASSERT(used <= capacity);

  std::vector<HullStep> steps = all_hull_steps(items);
  const size_t taken = select_break_step(steps, capacity - used);
  uint64_t left = capacity - used;
  for (size_t s = 0; s < taken; ++s) {
    const HullStep& step = steps[s];
    left -= static_cast<uint64_t>(step.bytes);
    // The taken steps of an item are its first ones, so the highest wins.
    const uint32_t position = items[step.item].hull[step.step];
    lp.reference[step.item] = std::max(lp.reference[step.item], position);
  }
  double fractional_gain = 0;
  if (taken < steps.size()) {
    const HullStep& step = steps[taken];
    lp.fractional = step.item;
    lp.lambda = step.efficiency;
    fractional_gain = step.gain * (static_cast<double>(left) /
                                   static_cast<double>(step.bytes));
  }
  lp.residual = left;
  lp.reference_damage = plan_damage(items, lp.reference);
  lp.bound = lp.reference_damage - fractional_gain;
  return lp;
}

Incumbent round_lp_solution(const std::vector<ReducedItem>& items,
                            const LpRelaxation& lp, uint64_t capacity) {
  // Rounding down: the integral part of the LP, then fill the residual.
  Incumbent best;
  best.positions = lp.reference;
  fill_residual(items, best.positions, lp.residual);
  best.damage = plan_damage(items, best.positions);
  if (lp.fractional < 0) return best;

  // Rounding up: take the fractional step whole, then undo taken steps of
  // other items, least efficient first (the reverse greedy order), until
  // the plan fits, and fill the residual. Each item's least efficient taken
  // step is its highest one, so a heap of one step per item suffices.
  const auto b = static_cast<uint32_t>(lp.fractional);
  std::vector<uint32_t> positions = lp.reference;
  positions[b] = items[b].hull[hull_index(items[b], lp.reference[b]) + 1];
  uint64_t used = plan_bytes(items, positions);
  // std::priority_queue pops the maximum, here the last in greedy order.
  const auto undo_later = [](const HullStep& x, const HullStep& y) {
    return comes_before(x, y);
  };
  std::priority_queue<HullStep, std::vector<HullStep>, decltype(undo_later)>
      heap(undo_later);
  for (uint32_t i = 0; i < items.size(); ++i) {
    const uint32_t t = hull_index(items[i], positions[i]);
    if (i != b && t > 0) heap.push(hull_step(items[i], i, t));
  }
  while (used > capacity && !heap.empty()) {
    const HullStep step = heap.top();
    heap.pop();
    positions[step.item] = items[step.item].hull[step.step - 1];
    used -= static_cast<uint64_t>(step.bytes);
    if (step.step > 1)
      heap.push(hull_step(items[step.item], step.item, step.step - 1));
  }
  if (used > capacity) return best;
  fill_residual(items, positions, capacity - used);
  const double damage = plan_damage(items, positions);
  if (damage < best.damage) {
    best.positions = std::move(positions);
    best.damage = damage;
  }
  return best;
}

}  // namespace optiq::knapsack_detail
