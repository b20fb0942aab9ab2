// Exact search over the core items of a multiple-choice knapsack.
//
// Notation: x is the integral part of the LP solution (the "reference"),
// r the capacity it leaves, lambda the LP price and LP the LP value. The
// reduced cost of choice j of item i is
//   rho_ij = (d_ij - d_i,x) + lambda * (w_ij - w_i,x) >= 0,
// and every feasible plan y satisfies D(y) >= LP + sum_i rho_i,y_i (the
// Lagrangian bound). So a plan that beats the incumbent U by more than the
// tolerance eps has sum rho < T = U - LP - eps, and any choice with
// rho >= T can be fixed out. The items left with two or more choices form
// the core; every other item keeps its reference choice.
//
// The core items are enumerated one at a time by dynamic programming over
// states (dw, dd): the byte and damage change from the reference of the
// items assigned so far. A state is dropped when another state has both
// lower-or-equal dw and dd, when the unassigned core items cannot bring it
// back within r, when its sum of reduced costs dd + lambda * dw is >= T, or
// when D(x) + dd + the LP relaxation of the unassigned core items is
// >= U - eps. This follows the dynamic programming with upper
// bound tests of Pisinger's minimal MCKP algorithm, with all core items
// enumerated rather than expanded gradually.
#include <algorithm>
#include <limits>
#include <vector>

#include "optiq/core/error.h"
#include "optiq/plan/knapsack.h"

namespace optiq::knapsack_detail {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// A choice of a core item, relative to the item's reference choice.
struct Candidate {
  int64_t dw;         // byte change
  double dd;          // damage change
  uint32_t position;  // position in ReducedItem::options
};

struct CoreItem {
  uint32_t item;
  std::vector<Candidate> candidates;  // dw strictly increasing
};

// A partial solution: the change from the reference of the core items
// assigned so far.
struct State {
  int64_t dw;
  double dd;
};

// A state of the next stage before the dominance and bound tests.
struct Shifted {
  State state;
  uint32_t parent;
  uint16_t candidate;
};

// Back pointer of a state: its parent in the previous stage's list and the
// candidate chosen for that stage's item.
struct Link {
  uint32_t parent;
  uint16_t candidate;
};

// Hull step of a core item in candidate space.
struct CoreStep {
  double efficiency;
  int64_t dw;
  double gain;
  uint32_t rank;  // position of the item in the core order
  uint32_t step;
};

// LP relaxation of the core items ranked >= first, as a function of the
// byte change c they may add in total (negative c means they must free
// bytes). Convex and piecewise linear: the items start at their smallest
// candidate and take hull steps by decreasing efficiency.
//
// A relaxation built for a smaller first also covers items that are already
// assigned. Its value is then lower or equal, because those items could
// stay at their reference choice, so it is still a valid bound.
class RestRelaxation {
 public:
  // Rebuilds for the items ranked >= first, and drops from steps the steps
  // of items ranked below first - 1, which no later rebuild needs.
  void rebuild(std::vector<CoreStep>& steps, const std::vector<CoreItem>& core,
               uint32_t first) {
    base_dw_ = 0;
    base_dd_ = 0;
    for (uint32_t k = first; k < core.size(); ++k) {
      base_dw_ += core[k].candidates.front().dw;
      base_dd_ += core[k].candidates.front().dd;
    }
    std::erase_if(steps,
                  [&](const CoreStep& step) { return step.rank + 1 < first; });
    cum_dw_.clear();
    cum_gain_.clear();
    step_gain_.clear();
    int64_t total_dw = 0;
    double total_gain = 0;
    for (const CoreStep& step : steps) {
      if (step.rank < first) continue;
      total_dw += step.dw;
      total_gain += step.gain;
      cum_dw_.push_back(total_dw);
      cum_gain_.push_back(total_gain);
      step_gain_.push_back(step.gain);
    }
  }

  size_t size() const { return cum_dw_.size(); }

  // Minimum LP damage change of the covered items when their byte change is
  // at most c; +infinity if they cannot free enough bytes. Successive calls
  // sharing a cursor, which starts at size(), must pass non-increasing c.
  double min_damage(int64_t c, size_t& cursor) const {
    if (c < base_dw_) return kInfinity;
    const int64_t extra = c - base_dw_;
    // Keep cursor at the first step whose cumulative bytes exceed extra.
    while (cursor > 0 && cum_dw_[cursor - 1] > extra) --cursor;
    const size_t k = cursor;
    if (k == cum_dw_.size()) {
      return base_dd_ - (cum_gain_.empty() ? 0.0 : cum_gain_.back());
    }
    const int64_t before_dw = k == 0 ? 0 : cum_dw_[k - 1];
    const double before_gain = k == 0 ? 0.0 : cum_gain_[k - 1];
    const double fraction = static_cast<double>(extra - before_dw) /
                            static_cast<double>(cum_dw_[k] - before_dw);
    return base_dd_ - (before_gain + step_gain_[k] * fraction);
  }

 private:
  int64_t base_dw_ = 0;
  double base_dd_ = 0;
  std::vector<int64_t> cum_dw_;
  std::vector<double> cum_gain_;
  std::vector<double> step_gain_;
};

class CoreSearch {
 public:
  CoreSearch(const std::vector<ReducedItem>& items, const LpRelaxation& lp,
             Incumbent incumbent, const KnapsackOptions& options,
             std::chrono::steady_clock::time_point deadline)
      : items_(items),
        lp_(lp),
        options_(options),
        deadline_(deadline),
        residual_(static_cast<int64_t>(lp.residual)) {
    result_.best = std::move(incumbent);
    set_upper_bound(result_.best.damage);
  }

  CoreResult run() {
    if (threshold_ <= 0) {
      floor_ = lp_.bound;
      return finish(true);
    }
    select_core();
    result_.core_items = static_cast<uint32_t>(core_.size());
    if (core_.empty()) return finish(true);
    build_core_steps();

    std::vector<State> current{{0, 0.0}};
    std::vector<State> next;
    for (uint32_t k = 0; k < core_.size(); ++k) {
      if (threshold_ <= 0) {
        // Every remaining state has a bound >= LP >= the cutoff.
        add_state_bounds(k, current);
        break;
      }
      links_.emplace_back();
      const bool complete = expand(k, current, next);
      links_.back().shrink_to_fit();
      if (best_stage_ == static_cast<int64_t>(k)) rebuild_incumbent();
      if (!complete) {
        // Every plan not yet ruled out extends a state of stage k.
        add_state_bounds(k, current);
        return finish(false);
      }
      current.swap(next);
      if (current.empty()) break;
    }
    return finish(true);
  }

 private:
  void set_upper_bound(double damage) {
    upper_ = damage;
    const double eps = std::max(options_.absolute_tolerance,
                                options_.relative_tolerance * upper_);
    cutoff_ = upper_ - eps;
    threshold_ = cutoff_ - lp_.bound;
  }

  // Fixes out choices with rho >= T and orders the remaining core items:
  // the one with the smallest positive reduced cost comes first, because
  // its choice is the least settled by the LP.
  void select_core() {
    std::vector<std::pair<double, uint32_t>> order;
    std::vector<CoreItem> core;
    for (uint32_t i = 0; i < items_.size(); ++i) {
      const std::vector<Option>& options = items_[i].options;
      const Option& ref = options[lp_.reference[i]];
      CoreItem item{i, {}};
      double key = kInfinity;
      for (uint32_t q = 0; q < options.size(); ++q) {
        const int64_t dw = static_cast<int64_t>(options[q].bytes) -
                           static_cast<int64_t>(ref.bytes);
        const double dd = options[q].damage - ref.damage;
        const double rho =
            q == lp_.reference[i] ? 0.0 : std::max(0.0, dd + lp_.lambda * dw);
        if (rho >= threshold_) {
          floor_ = std::min(floor_, lp_.bound + rho);
          continue;
        }
        item.candidates.push_back({dw, dd, q});
        if (q != lp_.reference[i]) key = std::min(key, rho);
      }
      if (item.candidates.size() < 2) continue;
      order.emplace_back(key, static_cast<uint32_t>(core.size()));
      core.push_back(std::move(item));
    }
    std::sort(order.begin(), order.end());
    for (const auto& entry : order)
      core_.push_back(std::move(core[entry.second]));

    // Lowest byte change the items ranked >= k can reach, for feasibility.
    min_rest_dw_.assign(core_.size() + 1, 0);
    for (size_t k = core_.size(); k-- > 0;) {
      min_rest_dw_[k] = min_rest_dw_[k + 1] + core_[k].candidates.front().dw;
    }
  }

  void build_core_steps() {
    std::vector<int64_t> x;
    std::vector<double> y;
    std::vector<uint32_t> hull;
    for (uint32_t k = 0; k < core_.size(); ++k) {
      x.clear();
      y.clear();
      hull.clear();
      for (const Candidate& c : core_[k].candidates) {
        x.push_back(c.dw);
        y.push_back(c.dd);
      }
      lower_convex_hull(x, y, hull);
      for (uint32_t t = 1; t < hull.size(); ++t) {
        const int64_t dw = x[hull[t]] - x[hull[t - 1]];
        const double gain = y[hull[t - 1]] - y[hull[t]];
        steps_.push_back({gain / static_cast<double>(dw), dw, gain, k, t});
      }
    }
    std::sort(steps_.begin(), steps_.end(),
              [](const CoreStep& a, const CoreStep& b) {
                if (a.efficiency != b.efficiency) {
                  return a.efficiency > b.efficiency;
                }
                if (a.rank != b.rank) return a.rank < b.rank;
                return a.step < b.step;
              });
  }

  // Lowers floor_ to the bounds of the states of stage k, whose items
  // ranked >= k are unassigned.
  void add_state_bounds(uint32_t k, const std::vector<State>& states) {
    rest_.rebuild(steps_, core_, k);
    size_t cursor = rest_.size();
    for (const State& state : states) {
      const double bound = lp_.reference_damage + state.dd +
                           rest_.min_damage(residual_ - state.dw, cursor);
      floor_ = std::min(floor_, bound);
    }
  }

  // Builds the states of stage k + 1 from those of stage k by assigning
  // core item k. Returns false when a node or time limit stopped it.
  bool expand(uint32_t k, const std::vector<State>& current,
              std::vector<State>& next) {
    const std::vector<Candidate>& candidates = core_[k].candidates;
    next.clear();

    // Shift the current list by each candidate into its own run, keeping
    // the states that pass the reduced-cost test and can still be brought
    // back within the residual capacity. Runs stay sorted by (dw, dd).
    const int64_t max_dw = residual_ - min_rest_dw_[k + 1];
    shifted_.clear();
    run_ends_.clear();
    // Link indices are 32-bit, which also caps a stage without a limit.
    uint64_t node_room = std::numeric_limits<uint32_t>::max();
    if (options_.max_nodes != 0) {
      node_room = std::min(node_room, options_.max_nodes - result_.nodes);
    }
    for (uint32_t c = 0; c < candidates.size(); ++c) {
      const Candidate& candidate = candidates[c];
      for (uint32_t parent = 0; parent < current.size(); ++parent) {
        const State& s = current[parent];
        const int64_t dw = s.dw + candidate.dw;
        if (dw > max_dw) break;
        const double dd = s.dd + candidate.dd;
        // The sum of the reduced costs of the assigned choices.
        const double sigma = dd + lp_.lambda * static_cast<double>(dw);
        if (sigma >= threshold_) {
          floor_ = std::min(floor_, lp_.bound + sigma);
          continue;
        }
        if (shifted_.size() >= node_room) {
          result_.nodes += shifted_.size();
          return false;
        }
        shifted_.push_back({{dw, dd}, parent, static_cast<uint16_t>(c)});
      }
      run_ends_.push_back(shifted_.size());
      if (std::chrono::steady_clock::now() >= deadline_) {
        result_.nodes += shifted_.size();
        return false;
      }
    }
    result_.nodes += shifted_.size();
    merge_runs();

    // Rebuilding the relaxation costs O(steps), so it waits until as many
    // states have been generated since the last rebuild. A stale
    // relaxation is still a valid bound.
    if (k == 0 || generated_since_rebuild_ >= rest_.size()) {
      rest_.rebuild(steps_, core_, k + 1);
      generated_since_rebuild_ = 0;
    }
    generated_since_rebuild_ += shifted_.size();

    // Sweep the merged states by (dw, dd, candidate): a state survives if
    // it is less damaging than every kept state with fewer or equal bytes
    // and its bound beats the incumbent. The first of equal states wins.
    size_t cursor = rest_.size();
    std::vector<Link>& links = links_.back();
    double min_dd = kInfinity;
    for (const Shifted& shifted : shifted_) {
      const State& state = shifted.state;
      if (state.dd >= min_dd) continue;
      const double sigma =
          state.dd + lp_.lambda * static_cast<double>(state.dw);
      if (sigma >= threshold_) {
        floor_ = std::min(floor_, lp_.bound + sigma);
        continue;
      }
      const double bound = lp_.reference_damage + state.dd +
                           rest_.min_damage(residual_ - state.dw, cursor);
      if (bound >= cutoff_) {
        floor_ = std::min(floor_, bound);
        continue;
      }
      min_dd = state.dd;
      next.push_back(state);
      links.push_back({shifted.parent, shifted.candidate});
      const double damage = lp_.reference_damage + state.dd;
      if (state.dw <= residual_ && damage < upper_) {
        set_upper_bound(damage);
        best_stage_ = k;
        best_index_ = static_cast<uint32_t>(next.size() - 1);
      }
    }
    return true;
  }

  // Merges the sorted runs of shifted_ into one list sorted by (dw, dd).
  // Merging neighbours pairwise with the stable std::merge keeps states of
  // lower candidates first among equals.
  void merge_runs() {
    const auto less = [](const Shifted& a, const Shifted& b) {
      if (a.state.dw != b.state.dw) return a.state.dw < b.state.dw;
      return a.state.dd < b.state.dd;
    };
    while (run_ends_.size() > 1) {
      merged_.resize(shifted_.size());
      size_t begin = 0;
      size_t out = 0;
      for (size_t r = 0; r < run_ends_.size(); r += 2) {
        const auto first = shifted_.begin() + begin;
        const auto middle = shifted_.begin() + run_ends_[r];
        const auto last = r + 1 < run_ends_.size()
                              ? shifted_.begin() + run_ends_[r + 1]
                              : middle;
        std::merge(first, middle, middle, last, merged_.begin() + begin, less);
        begin = last - shifted_.begin();
        run_ends_[out++] = begin;
      }
      run_ends_.resize(out);
      shifted_.swap(merged_);
    }
  }

  // Turns the best state into a full plan by following its links back.
  void rebuild_incumbent() {
    std::vector<uint32_t> positions = lp_.reference;
    uint32_t index = best_index_;
    for (int64_t stage = best_stage_; stage >= 0; --stage) {
      const Link link = links_[stage][index];
      const CoreItem& item = core_[stage];
      positions[item.item] = item.candidates[link.candidate].position;
      index = link.parent;
    }
    result_.best.positions = std::move(positions);
    result_.best.damage = upper_;
  }

  CoreResult finish(bool proven) {
    result_.proven_optimal = proven;
    result_.lower_bound = std::min(upper_, floor_);
    return std::move(result_);
  }

  const std::vector<ReducedItem>& items_;
  const LpRelaxation& lp_;
  const KnapsackOptions& options_;
  const std::chrono::steady_clock::time_point deadline_;
  const int64_t residual_;

  double upper_ = kInfinity;   // damage of the incumbent
  double cutoff_ = kInfinity;  // upper_ - eps: bounds at or above prune
  double threshold_ =
      kInfinity;  // cutoff_ - LP: reduced costs at or above prune
  // Smallest bound of anything pruned by bound; min(upper_, floor_) is a
  // proven lower bound on the optimum.
  double floor_ = kInfinity;

  std::vector<CoreItem> core_;
  std::vector<int64_t> min_rest_dw_;
  std::vector<CoreStep> steps_;
  std::vector<std::vector<Link>> links_;
  RestRelaxation rest_;
  uint64_t generated_since_rebuild_ = 0;
  std::vector<Shifted> shifted_;  // buffers reused across stages
  std::vector<Shifted> merged_;
  std::vector<size_t> run_ends_;
  int64_t best_stage_ = -1;
  uint32_t best_index_ = 0;
  CoreResult result_;
};

}  // namespace

CoreResult search_core(const std::vector<ReducedItem>& items,
                       const LpRelaxation& lp, Incumbent incumbent,
                       const KnapsackOptions& options,
                       std::chrono::steady_clock::time_point deadline) {
  return CoreSearch(items, lp, std::move(incumbent), options, deadline).run();
}

}  // namespace optiq::knapsack_detail
