// Knapsack planner speed on synthetic instances shaped like a Llama-style
// model: tensors of a few sizes, 12 formats with costs proportional to bits
// times size, and damage falling roughly as 4^-bits (squared quantization
// error halves per extra bit) with per-tensor sensitivities and noise.
//
// Counters: nodes (DP states kept), core (items left after reduced-cost
// fixing), gap (damage - proven lower bound) and proven (1 if optimal).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "optiq/plan/knapsack.h"

namespace optiq {
namespace {

// Bits per weight of the 12 candidate formats, scales included, similar to
// the GGUF k-quants and MLX affine formats (2-bit to 8-bit, plus f16).
constexpr double kFormatBits[12] = {2.0625, 2.5625, 3.0625, 3.4375,
                                    4.0625, 4.5,    5.0625, 5.5,
                                    6.0625, 6.5625, 8.5,    16.0};

// Parameter counts of the tensors of one transformer layer (hidden 4096,
// grouped KV heads of total width 1024, MLP width 14336).
constexpr int64_t kLayerTensors[7] = {
    4096LL * 4096,  4096LL * 1024,  4096LL * 1024,  4096LL * 4096,
    4096LL * 14336, 4096LL * 14336, 14336LL * 4096,
};

// noise = 0 and equal sensitivities per tensor kind give many exact ties.
KnapsackProblem model_like_problem(int items, double noise, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  KnapsackProblem problem;
  problem.items.resize(items);
  double layer_sensitivity = 1.0;
  for (int i = 0; i < items; ++i) {
    const int kind = i % 7;
    if (kind == 0) layer_sensitivity = std::exp(noise * normal(rng));
    const double sensitivity =
        layer_sensitivity * std::exp(0.5 * kind + 1.5 * noise * normal(rng));
    const int64_t params = kLayerTensors[kind];
    for (double bits : kFormatBits) {
      KnapsackChoice choice;
      choice.bytes = static_cast<uint64_t>(std::ceil(bits * params / 8));
      choice.damage = sensitivity * static_cast<double>(params) * 1e-9 *
                      std::pow(4.0, -bits) *
                      std::exp(0.3 * noise * normal(rng));
      problem.items[i].choices.push_back(choice);
    }
  }
  return problem;
}

void report(benchmark::State& state, const KnapsackSolution& s) {
  state.counters["nodes"] = static_cast<double>(s.nodes);
  state.counters["core"] = s.core_items;
  state.counters["gap"] = s.gap;
  state.counters["proven"] = s.proven_optimal ? 1 : 0;
}

// Args: item count, budget as per-mille of the way from the smallest to the
// largest achievable total, noise (0 or 1).
void BM_KnapsackFeasibleRange(benchmark::State& state) {
  KnapsackProblem problem = model_like_problem(
      static_cast<int>(state.range(0)), static_cast<double>(state.range(2)), 1);
  const ByteRange range = achievable_byte_range(problem);
  problem.budget_bytes = range.min_bytes + (range.max_bytes - range.min_bytes) /
                                               1000 * state.range(1);
  KnapsackSolution solution;
  for (auto _ : state) {
    solution = solve_knapsack(problem);
    benchmark::DoNotOptimize(solution.damage);
  }
  report(state, solution);
}

// Args: item count, average bits per weight x 100, noise (0 or 1).
void BM_KnapsackBitsPerWeight(benchmark::State& state) {
  KnapsackProblem problem = model_like_problem(
      static_cast<int>(state.range(0)), static_cast<double>(state.range(2)), 2);
  int64_t params = 0;
  for (int i = 0; i < state.range(0); ++i) params += kLayerTensors[i % 7];
  problem.budget_bytes = static_cast<uint64_t>(params) * state.range(1) / 800;
  KnapsackSolution solution;
  for (auto _ : state) {
    solution = solve_knapsack(problem);
    benchmark::DoNotOptimize(solution.damage);
  }
  report(state, solution);
}

BENCHMARK(BM_KnapsackFeasibleRange)
    ->ArgsProduct({{1000},
                   {0, 1, 10, 50, 100, 250, 500, 750, 900, 990, 1000},
                   {1, 0}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KnapsackBitsPerWeight)
    ->ArgsProduct({{1000, 5000}, {250, 300, 350, 400, 450, 500, 600, 800}, {1}})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace optiq

BENCHMARK_MAIN();
