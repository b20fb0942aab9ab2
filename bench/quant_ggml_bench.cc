// Speed of ggml quantization and dequantization on a 4096 x 4096 matrix of
// standard normal weights (the size of a 7B model's attention projection).
//
//   bench_quant_ggml [--benchmark_filter=Q4_K]
//
// The /threads:1 variants run optiq's loops on one thread; the others use
// every core. Items per second are matrix elements.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "optiq/core/parallel.h"
#include "optiq/quant/ggml_quant.h"

namespace {

constexpr int64_t kRows = 4096;
constexpr int64_t kCols = 4096;

const std::vector<float>& weights() {
  static const std::vector<float> w = [] {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    std::vector<float> v(kRows * kCols);
    for (float& x : v) x = normal(rng);
    return v;
  }();
  return w;
}

// Mean x^2 per input column with a spread like real activations.
const std::vector<float>& importance() {
  static const std::vector<float> imp = [] {
    std::mt19937 rng(2);
    std::normal_distribution<float> normal;
    std::vector<float> v(kCols);
    for (float& x : v) x = std::exp(2.0f * normal(rng));
    return v;
  }();
  return imp;
}

void quantize(benchmark::State& state, optiq::GgmlType type, bool weighted,
              int threads) {
  const int saved = optiq::thread_count();
  optiq::set_thread_count(threads);
  const float* imp = weighted ? importance().data() : nullptr;
  std::vector<uint8_t> out;
  for (auto _ : state) {
    optiq::ggml_quantize_matrix(type, weights().data(), kRows, kCols, imp, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kRows * kCols);
  optiq::set_thread_count(saved);
}

void dequantize(benchmark::State& state, optiq::GgmlType type) {
  std::vector<uint8_t> bytes;
  optiq::ggml_quantize_matrix(type, weights().data(), kRows, kCols, nullptr,
                              bytes);
  const size_t row_bytes = optiq::ggml_row_bytes(type, kCols);
  std::vector<float> out(kCols);
  for (auto _ : state) {
    for (int64_t r = 0; r < kRows; ++r) {
      optiq::ggml_dequantize_row(type, bytes.data() + r * row_bytes, out.data(),
                                 kCols);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * kRows * kCols);
}

const optiq::GgmlType kTypes[] = {optiq::GgmlType::Q2_K, optiq::GgmlType::Q3_K,
                                  optiq::GgmlType::Q4_K, optiq::GgmlType::Q5_K,
                                  optiq::GgmlType::Q6_K, optiq::GgmlType::Q4_0,
                                  optiq::GgmlType::Q4_1, optiq::GgmlType::Q5_0,
                                  optiq::GgmlType::Q5_1, optiq::GgmlType::Q8_0};

int register_benchmarks() {
  for (optiq::GgmlType type : kTypes) {
    const std::string name(optiq::ggml_type_name(type));
    for (bool weighted : {false, true}) {
      const std::string suffix = weighted ? "/importance" : "";
      benchmark::RegisterBenchmark(
          ("Quantize/" + name + suffix + "/threads:1").c_str(),
          [=](benchmark::State& s) { quantize(s, type, weighted, 1); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(
          ("Quantize/" + name + suffix + "/threads:all").c_str(),
          [=](benchmark::State& s) { quantize(s, type, weighted, 0); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
    benchmark::RegisterBenchmark(
        ("Dequantize/" + name).c_str(),
        [=](benchmark::State& s) { dequantize(s, type); })
        ->Unit(benchmark::kMillisecond);
  }
  return 0;
}

const int registered = register_benchmarks();

}  // namespace

BENCHMARK_MAIN();
