// optiq eval perplexity / optiq eval kld.
#include <cstdio>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "optiq/cli/commands.h"
#include "optiq/cli/memory_limit.h"
#include "optiq/cli/model_loading.h"
#include "optiq/core/error.h"
#include "optiq/core/parallel.h"
#include "optiq/eval/perplexity.h"

namespace optiq::cli {
namespace {

struct EvalCommandOptions {
  std::string model;
  std::string candidate;
  std::string tokenizer;
  std::string text;
  std::string protocol = "llama.cpp";
  EvalOptions eval;
  bool json = false;
  std::string max_memory;
};

// Reports the buffers an evaluation needs over chunks of --ctx tokens and
// refuses when they exceed --max-memory.
void check_eval_memory(const Model& model, const EvalCommandOptions& options, int models) {
  const uint64_t limit = memory_limit_bytes(options.max_memory);
  const MemoryEstimate estimate = eval_memory(model, options.eval.ctx, models);
  std::fprintf(stderr, "evaluation buffers\n");
  print_memory_estimate(estimate, limit);
  check_memory(estimate, limit, fmt::format("evaluating at ctx {}", options.eval.ctx));
}

void add_common_options(CLI::App* command, EvalCommandOptions& options) {
  command->add_option("--tokenizer", options.tokenizer,
                      "Tokenizer file (default: the one in the model folder)");
  command->add_option("--text", options.text, "UTF-8 text file to evaluate on")->required();
  command->add_option("--ctx", options.eval.ctx, "Tokens per evaluated sequence")
      ->check(CLI::Range(4, 1 << 20));
  command->add_option("--protocol", options.protocol,
                      "llama.cpp: fixed chunks, second half scored; documents: split on "
                      "--separator, each scored from BOS (truncated to --ctx)");
  command->add_option("--separator", options.eval.separator,
                      "Document separator for --protocol documents (default: blank line)");
  command->add_option("--max-tokens", options.eval.max_tokens,
                      "documents protocol: score only each document's first N tokens");
  command->add_option("--chunks", options.eval.max_chunks,
                      "Evaluate at most this many chunks or documents (0: all)");
  command->add_flag("--json", options.json, "Print the results as one JSON object");
  add_memory_option(command, options.max_memory);
}

nlohmann::json settings_json(const EvalCommandOptions& options) {
  return {{"protocol", protocol_name(options.eval.protocol)},
          {"ctx", options.eval.ctx},
          {"text", options.text},
          {"threads", thread_count()}};
}

void print_settings(const EvalCommandOptions& options, int64_t sequences) {
  std::printf("protocol        %s (ctx %lld, %lld sequences)\n",
              std::string(protocol_name(options.eval.protocol)).c_str(),
              static_cast<long long>(options.eval.ctx), static_cast<long long>(sequences));
  std::printf("text            %s\n", options.text.c_str());
}

void run_perplexity(EvalCommandOptions& options) {
  options.eval.protocol = parse_protocol(options.protocol);
  LoadedModel loaded = load_model_and_tokenizer(options.model, options.tokenizer);
  check_eval_memory(loaded.model, options, 1);
  std::string text = read_text_file(options.text);
  std::vector<EvalSequence> sequences = make_eval_sequences(*loaded.tokenizer, text, options.eval);
  Transformer transformer(loaded.model);
  PerplexityResult r = evaluate_perplexity(transformer, *loaded.tokenizer, sequences);
  if (options.json) {
    nlohmann::json out = settings_json(options);
    out.update({{"model", options.model},
                {"perplexity", r.perplexity},
                {"std_error", r.std_error},
                {"mean_nll", r.mean_nll},
                {"tokens_scored", r.tokens_scored},
                {"sequences", r.sequences},
                {"scored_bytes", r.scored_bytes},
                {"bits_per_byte", r.bits_per_byte},
                {"seconds", r.seconds},
                {"tokens_per_second", r.tokens_per_second}});
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  print_settings(options, r.sequences);
  std::printf("model           %s\n", options.model.c_str());
  std::printf("perplexity      %.4f +/- %.4f\n", r.perplexity, r.std_error);
  std::printf("tokens scored   %lld\n", static_cast<long long>(r.tokens_scored));
  std::printf("bits per byte   %.4f (%lld bytes)\n", r.bits_per_byte,
              static_cast<long long>(r.scored_bytes));
  std::printf("speed           %.1f tokens/s (%.2fs, %d threads)\n", r.tokens_per_second,
              r.seconds, thread_count());
}

void run_kld(EvalCommandOptions& options) {
  options.eval.protocol = parse_protocol(options.protocol);
  LoadedModel base = load_model_and_tokenizer(options.model, options.tokenizer);
  Model candidate = load_model(options.candidate);
  check_eval_memory(base.model, options, 2);
  std::string text = read_text_file(options.text);
  std::vector<EvalSequence> sequences = make_eval_sequences(*base.tokenizer, text, options.eval);
  Transformer base_transformer(base.model);
  Transformer candidate_transformer(candidate);
  KldResult r = evaluate_kld(base_transformer, candidate_transformer, *base.tokenizer, sequences);
  if (options.json) {
    nlohmann::json out = settings_json(options);
    out.update({{"base", options.model},
                {"candidate", options.candidate},
                {"mean_kld", r.mean_kld},
                {"kld_std_error", r.kld_std_error},
                {"kld_p99", r.kld_p99},
                {"kld_median", r.kld_median},
                {"kld_max", r.kld_max},
                {"top1_agreement", r.top1_agreement},
                {"tokens_scored", r.tokens_scored},
                {"base_perplexity", r.base.perplexity},
                {"candidate_perplexity", r.candidate.perplexity},
                {"seconds", r.seconds}});
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  print_settings(options, r.base.sequences);
  std::printf("base            %s (perplexity %.4f)\n", options.model.c_str(), r.base.perplexity);
  std::printf("candidate       %s (perplexity %.4f)\n", options.candidate.c_str(),
              r.candidate.perplexity);
  std::printf("mean KLD        %.6f +/- %.6f\n", r.mean_kld, r.kld_std_error);
  std::printf("KLD median      %.6f\n", r.kld_median);
  std::printf("KLD p99         %.6f\n", r.kld_p99);
  std::printf("KLD max         %.6f\n", r.kld_max);
  std::printf("top-1 agreement %.4f%%\n", 100.0 * r.top1_agreement);
  std::printf("tokens scored   %lld\n", static_cast<long long>(r.tokens_scored));
}

}  // namespace

void register_eval(CLI::App& app) {
  CLI::App* eval = app.add_subcommand("eval", "Measure model quality");
  eval->require_subcommand(1);

  auto ppl = std::make_shared<EvalCommandOptions>();
  CLI::App* perplexity = eval->add_subcommand("perplexity", "Perplexity of a model on a text");
  perplexity->add_option("model", ppl->model, "Model folder, GGUF file or llama2.c checkpoint")->required();
  add_common_options(perplexity, *ppl);
  perplexity->callback([ppl] { run_perplexity(*ppl); });

  auto kld = std::make_shared<EvalCommandOptions>();
  CLI::App* divergence = eval->add_subcommand(
      "kld", "KL divergence of a candidate's next-token distributions from a base model's");
  divergence->add_option("base", kld->model, "Reference model (usually full precision)")->required();
  divergence->add_option("candidate", kld->candidate, "Model to compare (e.g. quantized)")->required();
  add_common_options(divergence, *kld);
  divergence->callback([kld] { run_kld(*kld); });
}

}  // namespace optiq::cli
