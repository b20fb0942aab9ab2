// optiq generate: text continuation with greedy or temperature sampling.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "optiq/cli/commands.h"
#include "optiq/cli/model_loading.h"
#include "optiq/core/error.h"
#include "optiq/model/forward.h"

namespace optiq::cli {
namespace {

struct GenerateOptions {
  std::string model;
  std::string tokenizer;
  std::string prompt;
  int64_t steps = 256;
  double temperature = 1.0;
  double top_p = 0.9;
  uint64_t seed = 0;
  bool print_ids = false;
};

// Samples from softmax(logits / temperature) restricted to the smallest set of
// tokens whose probability reaches top_p; temperature 0 is argmax.
int32_t sample(const float* logits, int64_t vocab, const GenerateOptions& options,
               std::mt19937_64& rng) {
  if (options.temperature <= 0) {
    return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
  }
  std::vector<std::pair<double, int32_t>> probs(static_cast<size_t>(vocab));
  double max_logit = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    double p = std::exp((logits[i] - max_logit) / options.temperature);
    probs[i] = {p, static_cast<int32_t>(i)};
    sum += p;
  }
  std::sort(probs.begin(), probs.end(), [](auto& a, auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  double cumulative = 0;
  size_t keep = 0;
  while (keep < probs.size()) {
    cumulative += probs[keep++].first / sum;
    if (cumulative >= options.top_p) break;
  }
  double r = std::uniform_real_distribution<double>(0.0, cumulative)(rng);
  double running = 0;
  for (size_t i = 0; i < keep; ++i) {
    running += probs[i].first / sum;
    if (r < running) return probs[i].second;
  }
  return probs[keep - 1].second;
}

// Length of the longest prefix of `text` that does not end inside a UTF-8
// sequence, so streamed output never splits a character.
size_t complete_utf8_prefix(const std::string& text) {
  size_t end = text.size();
  size_t back = 0;
  while (back < 4 && back < end && (static_cast<uint8_t>(text[end - 1 - back]) & 0xC0) == 0x80) {
    ++back;
  }
  if (back < end) {
    uint8_t lead = static_cast<uint8_t>(text[end - 1 - back]);
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (need > back + 1) return end - 1 - back;
  }
  return end;
}

void run_generate(const GenerateOptions& options) {
  LoadedModel loaded = load_model_and_tokenizer(options.model, options.tokenizer);
  const Tokenizer& tokenizer = *loaded.tokenizer;
  const ModelConfig& config = loaded.model.config;
  std::vector<int32_t> tokens = tokenizer.encode_for_model(options.prompt, /*with_bos=*/true);
  if (tokens.empty()) fail("the prompt is empty and the tokenizer has no BOS token");
  const int64_t steps = std::min<int64_t>(options.steps, config.max_positions);
  if (options.steps > config.max_positions) {
    spdlog::warn("--steps {} exceeds the model's context of {}; stopping there", options.steps,
                 config.max_positions);
  }
  if (static_cast<int64_t>(tokens.size()) > steps) {
    fail("the prompt has {} tokens, more than --steps {}", tokens.size(), steps);
  }

  Transformer transformer(loaded.model);
  KVCache cache(config, steps);
  std::mt19937_64 rng(options.seed);
  std::vector<float> logits;
  std::vector<int32_t> generated_ids;
  std::string printed;
  const size_t prompt_length = tokens.size();
  auto start = std::chrono::steady_clock::now();
  auto first_token_time = start;

  // As llama2.c run.c: `steps` forward passes in total, the prompt included.
  // The first pass evaluates the whole prompt at once.
  std::vector<int32_t> pending = tokens;
  while (cache.length() < steps) {
    transformer.forward(pending, cache, logits, static_cast<int64_t>(pending.size()) - 1);
    if (cache.length() == static_cast<int64_t>(prompt_length)) {
      first_token_time = std::chrono::steady_clock::now();
    }
    int32_t next = sample(logits.data(), config.vocab, options, rng);
    if (next == tokenizer.bos_id() || next == tokenizer.eos_id()) break;
    tokens.push_back(next);
    generated_ids.push_back(next);
    pending.assign(1, next);
    if (!options.print_ids) {
      std::string text = tokenizer.decode(tokens);
      size_t ready = complete_utf8_prefix(text);
      if (ready > printed.size()) {
        std::fwrite(text.data() + printed.size(), 1, ready - printed.size(), stdout);
        std::fflush(stdout);
        printed.assign(text, 0, ready);
      }
    }
  }
  if (options.print_ids) {
    for (size_t i = 0; i < generated_ids.size(); ++i) {
      std::printf(i == 0 ? "%d" : " %d", generated_ids[i]);
    }
    std::printf("\n");
  } else {
    std::string text = tokenizer.decode(tokens);
    if (text.size() > printed.size()) std::fwrite(text.data() + printed.size(), 1, text.size() - printed.size(), stdout);
    if (isatty(STDOUT_FILENO)) std::printf("\n");
  }
  std::fflush(stdout);
  auto end = std::chrono::steady_clock::now();
  double prompt_seconds = std::chrono::duration<double>(first_token_time - start).count();
  double decode_seconds = std::chrono::duration<double>(end - first_token_time).count();
  spdlog::info("prompt: {} tokens in {:.3f}s; generated {} tokens at {:.1f} tokens/s",
               prompt_length, prompt_seconds, generated_ids.size(),
               decode_seconds > 0 ? (generated_ids.size() - 1) / decode_seconds : 0.0);
}

}  // namespace

void register_generate(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* command = app.add_subcommand("generate", "Continue a prompt with the model");
  command->add_option("model", options->model, "Model folder or llama2.c checkpoint")->required();
  command->add_option("--tokenizer", options->tokenizer,
                      "Tokenizer file (default: the one in the model folder)");
  command->add_option("-p,--prompt", options->prompt, "Prompt text (default: empty, BOS only)");
  command->add_option("-n,--steps", options->steps,
                      "Forward passes in total, prompt included (as llama2.c's -n)")
      ->check(CLI::PositiveNumber);
  command->add_option("--temperature", options->temperature, "Sampling temperature; 0 is greedy")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--top-p", options->top_p, "Nucleus sampling threshold in (0, 1]")
      ->check(CLI::Range(0.0, 1.0));
  command->add_option("--seed", options->seed, "Random seed for sampling");
  command->add_flag("--print-ids", options->print_ids,
                    "Print the generated token ids instead of text");
  command->callback([options] { run_generate(*options); });
}

}  // namespace optiq::cli
