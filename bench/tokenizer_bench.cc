// Tokenizer throughput on WikiText-2 (raw test split, about 1.3 MB) with
// the Llama 3 and Qwen3 tokenizer.json files. Run from any folder; the
// shared data folder is $OPTIQ_SHARED_DIR or the one configured at build
// time.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "optiq/tokenizer/hf_tokenizer.h"

namespace {

std::filesystem::path shared_path(const std::string& relative) {
  const char* env = std::getenv("OPTIQ_SHARED_DIR");
  return std::filesystem::path(env && *env ? env : OPTIQ_DEFAULT_SHARED_DIR) /
         relative;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Loads the tokenizer, or returns null and marks the benchmark skipped when
// the shared files are absent.
std::unique_ptr<optiq::Tokenizer> load(const std::string& name,
                                       benchmark::State& state) {
  const auto json = shared_path("tokenizers/" + name + "/tokenizer.json");
  if (!std::filesystem::exists(json)) {
    state.SkipWithError(("missing " + json.string()).c_str());
    return nullptr;
  }
  return optiq::load_hf_tokenizer(json, nullptr);
}

// Encodes the whole file per iteration with a fresh tokenizer (an empty
// pre-token cache), so the time covers the merge loop as well as the cache.
void BM_EncodeWikitext(benchmark::State& state, const std::string& name) {
  const std::string text =
      read_file(shared_path("data/wikitext-2-raw/wiki.test.raw"));
  if (text.empty()) {
    state.SkipWithError("missing data/wikitext-2-raw/wiki.test.raw");
    return;
  }
  size_t tokens = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto tokenizer = load(name, state);
    state.ResumeTiming();
    if (!tokenizer) return;
    tokens = tokenizer->encode(text).size();
    benchmark::DoNotOptimize(tokens);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}

void BM_LoadTokenizer(benchmark::State& state, const std::string& name) {
  for (auto _ : state) {
    auto tokenizer = load(name, state);
    if (!tokenizer) return;
    benchmark::DoNotOptimize(tokenizer.get());
  }
}

BENCHMARK_CAPTURE(BM_EncodeWikitext, llama3, std::string("llama3"))
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(BM_EncodeWikitext, qwen3, std::string("qwen3"))
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(BM_LoadTokenizer, llama3, std::string("llama3"))
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);

}  // namespace

BENCHMARK_MAIN();
