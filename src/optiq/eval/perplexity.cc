#include "optiq/eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "optiq/core/error.h"
#include "optiq/core/progress.h"

namespace optiq {

void log_softmax(const float* logits, int64_t vocab, std::vector<double>& out) {
  out.resize(static_cast<size_t>(vocab));
  double max_value = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(logits[i] - max_value);
  double log_sum = max_value + std::log(sum);
  for (int64_t i = 0; i < vocab; ++i) out[i] = logits[i] - log_sum;
}

int64_t span_bytes(const Tokenizer& tokenizer, std::span<const int32_t> tokens, int64_t begin,
                   int64_t end) {
  // Decode with one token of left context so that a leading space of the
  // first scored token counts, then subtract the context's own bytes.
  int64_t context = begin > 0 ? begin - 1 : begin;
  std::string with = tokenizer.decode(tokens.subspan(context, end - context));
  std::string without = tokenizer.decode(tokens.subspan(context, begin - context));
  return static_cast<int64_t>(with.size()) - static_cast<int64_t>(without.size());
}

void finish_perplexity(PerplexityResult& result, double nll_sum, double nll2_sum) {
  const double count = static_cast<double>(result.tokens_scored);
  const double mean = nll_sum / count;
  double variance = nll2_sum / count - mean * mean;
  double se_mean = (variance > 0 && count > 1) ? std::sqrt(variance / (count - 1)) : 0.0;
  result.mean_nll = mean;
  result.perplexity = std::exp(mean);
  result.std_error = se_mean * result.perplexity;
  result.bits_per_byte =
      result.scored_bytes > 0 ? nll_sum / std::log(2.0) / static_cast<double>(result.scored_bytes)
                              : 0.0;
}

PerplexityResult evaluate_perplexity(Transformer& model, const Tokenizer& tokenizer,
                                     const std::vector<EvalSequence>& sequences) {
  PerplexityResult result;
  const ModelConfig& c = model.model().config;
  int64_t capacity = 0;
  for (const EvalSequence& s : sequences) capacity = std::max<int64_t>(capacity, s.tokens.size());
  KVCache cache(c, capacity);
  std::vector<float> logits;
  std::vector<double> log_probs;
  double nll_sum = 0, nll2_sum = 0;
  int64_t evaluated = 0;
  Progress progress("perplexity", static_cast<int64_t>(sequences.size()), "chunk");
  auto start = std::chrono::steady_clock::now();
  for (const EvalSequence& s : sequences) {
    cache.clear();
    const int64_t n = static_cast<int64_t>(s.tokens.size());
    model.forward(s.tokens, cache, logits, s.first_scored);
    for (int64_t j = s.first_scored; j + 1 < n; ++j) {
      log_softmax(logits.data() + (j - s.first_scored) * c.vocab, c.vocab, log_probs);
      double nll = -log_probs[static_cast<size_t>(s.tokens[j + 1])];
      nll_sum += nll;
      nll2_sum += nll * nll;
      ++result.tokens_scored;
    }
    result.scored_bytes += span_bytes(tokenizer, s.tokens, s.first_scored + 1, n);
    evaluated += n;
    ++result.sequences;
    progress.advance(1, fmt::format("ppl {:.4f}", std::exp(nll_sum / result.tokens_scored)));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.tokens_per_second = result.seconds > 0 ? evaluated / result.seconds : 0;
  finish_perplexity(result, nll_sum, nll2_sum);
  return result;
}

}  // namespace optiq
