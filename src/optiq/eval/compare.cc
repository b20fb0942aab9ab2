#include "optiq/eval/compare.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "optiq/core/error.h"
#include "optiq/core/parallel.h"
#include "optiq/core/progress.h"

namespace optiq {
namespace {

struct Accumulator {
  std::vector<double> klds;
  double nll = 0, nll2 = 0;
  int64_t agree = 0;
};

}  // namespace

std::vector<KldResult> compare_models(Transformer& base, std::vector<Transformer*> candidates,
                                      const Tokenizer& tokenizer,
                                      const std::vector<EvalSequence>& sequences) {
  const int64_t vocab = base.model().config.vocab;
  const ModelConfig& config = base.model().config;
  for (Transformer* c : candidates) {
    const ModelConfig& other = c->model().config;
    if (other.vocab != vocab) {
      fail("the models have different vocabularies ({} and {} tokens)", vocab, other.vocab);
    }
    if (other.n_layers != config.n_layers || other.kv_dim() != config.kv_dim()) {
      fail("the models have different shapes ({} layers x {} key/value width, and {} x {})",
           config.n_layers, config.kv_dim(), other.n_layers, other.kv_dim());
    }
  }
  int64_t capacity = 0;
  for (const EvalSequence& s : sequences) capacity = std::max<int64_t>(capacity, s.tokens.size());
  KVCache cache(base.model().config, capacity);
  std::vector<Accumulator> acc(candidates.size());
  double base_nll = 0, base_nll2 = 0;
  int64_t count = 0, bytes = 0;
  std::vector<float> base_logits, logits;
  Progress progress("compare", static_cast<int64_t>(sequences.size()), "chunk");
  auto start = std::chrono::steady_clock::now();
  for (const EvalSequence& s : sequences) {
    const int64_t n = static_cast<int64_t>(s.tokens.size());
    const int64_t scored = n - 1 - s.first_scored;
    cache.clear();
    base.forward(s.tokens, cache, base_logits, s.first_scored);
    // Base log-probabilities and argmax per scored position.
    std::vector<std::vector<double>> base_lp(static_cast<size_t>(scored));
    std::vector<int64_t> base_top(static_cast<size_t>(scored));
    parallel_for(scored, [&](int64_t j) {
      log_softmax(base_logits.data() + j * vocab, vocab, base_lp[j]);
      base_top[j] = std::max_element(base_lp[j].begin(), base_lp[j].end()) - base_lp[j].begin();
    }, vocab * 4);
    for (int64_t j = 0; j < scored; ++j) {
      double lp = base_lp[j][s.tokens[s.first_scored + j + 1]];
      base_nll -= lp;
      base_nll2 += lp * lp;
    }
    for (size_t c = 0; c < candidates.size(); ++c) {
      cache.clear();
      candidates[c]->forward(s.tokens, cache, logits, s.first_scored);
      std::vector<double> kld(static_cast<size_t>(scored));
      std::vector<double> target_lp(static_cast<size_t>(scored));
      std::vector<int> agree(static_cast<size_t>(scored));
      parallel_for(scored, [&](int64_t j) {
        std::vector<double> lp;
        log_softmax(logits.data() + j * vocab, vocab, lp);
        double sum = 0;
        for (int64_t i = 0; i < vocab; ++i) sum += std::exp(base_lp[j][i]) * (base_lp[j][i] - lp[i]);
        kld[j] = std::max(sum, 0.0);
        target_lp[j] = lp[s.tokens[s.first_scored + j + 1]];
        agree[j] = (std::max_element(lp.begin(), lp.end()) - lp.begin()) == base_top[j];
      }, vocab * 4);
      for (int64_t j = 0; j < scored; ++j) {
        acc[c].klds.push_back(kld[j]);
        acc[c].nll -= target_lp[j];
        acc[c].nll2 += target_lp[j] * target_lp[j];
        acc[c].agree += agree[j];
      }
    }
    count += scored;
    bytes += span_bytes(tokenizer, s.tokens, s.first_scored + 1, n);
    progress.advance(1);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<KldResult> results(candidates.size());
  for (size_t c = 0; c < candidates.size(); ++c) {
    KldResult& r = results[c];
    r.base.tokens_scored = r.candidate.tokens_scored = count;
    r.base.scored_bytes = r.candidate.scored_bytes = bytes;
    finish_perplexity(r.base, base_nll, base_nll2);
    finish_perplexity(r.candidate, acc[c].nll, acc[c].nll2);
    r.base.sequences = r.candidate.sequences = static_cast<int64_t>(sequences.size());
    r.tokens_scored = count;
    double sum = 0, sum2 = 0;
    for (double k : acc[c].klds) {
      sum += k;
      sum2 += k * k;
    }
    r.mean_kld = sum / count;
    double variance = sum2 / count - r.mean_kld * r.mean_kld;
    r.kld_std_error = (variance > 0 && count > 1) ? std::sqrt(variance / (count - 1)) : 0.0;
    std::vector<double> sorted = acc[c].klds;
    std::sort(sorted.begin(), sorted.end());
    auto percentile = [&](double q) {
      return sorted[static_cast<size_t>(std::floor(q * (count - 1) + 0.5))];
    };
    r.kld_p99 = percentile(0.99);
    r.kld_median = percentile(0.5);
    r.kld_max = sorted.back();
    r.top1_agreement = static_cast<double>(acc[c].agree) / count;
    r.seconds = seconds;
  }
  return results;
}

KldResult evaluate_kld(Transformer& base, Transformer& candidate, const Tokenizer& tokenizer,
                       const std::vector<EvalSequence>& sequences) {
  return compare_models(base, {&candidate}, tokenizer, sequences).front();
}

}  // namespace optiq
