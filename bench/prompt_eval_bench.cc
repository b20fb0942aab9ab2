// Prompt evaluation: tokens per second of optiq's batched forward pass on
// 256-token prompts, the way llama.cpp's prompt processing is measured
// (one batch through every layer, logits for the last position only).
// Also reports the process's peak resident set size.
//
// Models come from $OPTIQ_SHARED_DIR (default: the configured shared
// folder); threads from $OPTIQ_THREADS (default 2).
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "optiq/core/parallel.h"
#include "optiq/model/forward.h"

namespace {

constexpr int64_t kPromptTokens = 256;

std::filesystem::path shared_path(const std::string& relative) {
  const char* env = std::getenv("OPTIQ_SHARED_DIR");
  return std::filesystem::path(env && *env ? env : OPTIQ_DEFAULT_SHARED_DIR) /
         relative;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

void BM_PromptEval(benchmark::State& state, const std::string& relative) {
  const char* threads = std::getenv("OPTIQ_THREADS");
  optiq::set_thread_count(threads && *threads ? std::atoi(threads) : 2);
  const auto path = shared_path(relative);
  if (!std::filesystem::exists(path)) {
    state.SkipWithError(("missing " + path.string()).c_str());
    return;
  }
  optiq::Model model = optiq::load_model(path);
  optiq::Transformer transformer(model);
  // A fixed prompt: BOS then ids spread over the vocabulary.
  std::vector<int32_t> tokens(kPromptTokens);
  tokens[0] = model.config.bos_id;
  for (int64_t i = 1; i < kPromptTokens; ++i) {
    tokens[i] = static_cast<int32_t>(3 + (i * 7919) % (model.config.vocab - 3));
  }
  optiq::KVCache cache(model.config, kPromptTokens);
  std::vector<float> logits;
  for (auto _ : state) {
    cache.clear();
    transformer.forward(tokens, cache, logits, kPromptTokens - 1);
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["tokens_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kPromptTokens),
      benchmark::Counter::kIsRate);
  state.counters["threads"] = optiq::thread_count();
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

BENCHMARK_CAPTURE(BM_PromptEval, stories260K_f32,
                  std::string("models/stories260K/stories260K.bin"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_PromptEval, kdocs_bf16,
                  std::string("models/optiq-bench-kdocs"))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
