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

namespace {

// Mean and standard error as llama-perplexity computes them.
void finish(PerplexityResult& result, double nll_sum, double nll2_sum) {
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

}  // namespace

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
  finish(result, nll_sum, nll2_sum);
  return result;
}

KldResult evaluate_kld(Transformer& base, Transformer& candidate, const Tokenizer& tokenizer,
                       const std::vector<EvalSequence>& sequences) {
  KldResult result;
  const ModelConfig& c = base.model().config;
  if (candidate.model().config.vocab != c.vocab) {
    fail("the models have different vocabularies ({} and {} tokens)", c.vocab,
         candidate.model().config.vocab);
  }
  int64_t capacity = 0;
  for (const EvalSequence& s : sequences) capacity = std::max<int64_t>(capacity, s.tokens.size());
  KVCache base_cache(c, capacity);
  KVCache candidate_cache(candidate.model().config, capacity);
  std::vector<float> base_logits, candidate_logits;
  std::vector<double> base_lp, candidate_lp;
  std::vector<double> klds;
  double base_nll = 0, base_nll2 = 0, cand_nll = 0, cand_nll2 = 0;
  int64_t agree = 0;
  Progress progress("kld", static_cast<int64_t>(sequences.size()), "chunk");
  auto start = std::chrono::steady_clock::now();
  for (const EvalSequence& s : sequences) {
    base_cache.clear();
    candidate_cache.clear();
    const int64_t n = static_cast<int64_t>(s.tokens.size());
    base.forward(s.tokens, base_cache, base_logits, s.first_scored);
    candidate.forward(s.tokens, candidate_cache, candidate_logits, s.first_scored);
    for (int64_t j = s.first_scored; j + 1 < n; ++j) {
      const int64_t row = (j - s.first_scored) * c.vocab;
      log_softmax(base_logits.data() + row, c.vocab, base_lp);
      log_softmax(candidate_logits.data() + row, c.vocab, candidate_lp);
      double kld = 0;
      for (int64_t i = 0; i < c.vocab; ++i) {
        kld += std::exp(base_lp[i]) * (base_lp[i] - candidate_lp[i]);
      }
      klds.push_back(std::max(kld, 0.0));
      auto argmax = [&](const std::vector<double>& v) {
        return std::max_element(v.begin(), v.end()) - v.begin();
      };
      agree += argmax(base_lp) == argmax(candidate_lp);
      const size_t target = static_cast<size_t>(s.tokens[j + 1]);
      base_nll -= base_lp[target];
      base_nll2 += base_lp[target] * base_lp[target];
      cand_nll -= candidate_lp[target];
      cand_nll2 += candidate_lp[target] * candidate_lp[target];
    }
    int64_t bytes = span_bytes(tokenizer, s.tokens, s.first_scored + 1, n);
    result.base.scored_bytes += bytes;
    result.candidate.scored_bytes += bytes;
    progress.advance(1);
  }
  const int64_t count = static_cast<int64_t>(klds.size());
  result.tokens_scored = count;
  result.base.tokens_scored = result.candidate.tokens_scored = count;
  result.base.sequences = result.candidate.sequences = static_cast<int64_t>(sequences.size());
  finish(result.base, base_nll, base_nll2);
  finish(result.candidate, cand_nll, cand_nll2);
  double sum = 0, sum2 = 0;
  for (double k : klds) {
    sum += k;
    sum2 += k * k;
  }
  result.mean_kld = sum / count;
  double variance = sum2 / count - result.mean_kld * result.mean_kld;
  result.kld_std_error = (variance > 0 && count > 1) ? std::sqrt(variance / (count - 1)) : 0.0;
  std::vector<double> sorted = klds;
  std::sort(sorted.begin(), sorted.end());
  auto percentile = [&](double q) {
    return sorted[static_cast<size_t>(std::min<double>(count - 1, std::floor(q * (count - 1) + 0.5)))];
  };
  result.kld_p99 = percentile(0.99);
  result.kld_median = percentile(0.5);
  result.kld_max = sorted.back();
  result.top1_agreement = static_cast<double>(agree) / count;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace optiq
