// Perplexity of a model on a text, and KL divergence between two models.
#pragma once

#include <cstdint>
#include <string_view>

#include "optiq/eval/chunks.h"
#include "optiq/model/forward.h"
#include "optiq/tokenizer/tokenizer.h"

namespace optiq {

struct PerplexityResult {
  double perplexity = 0;
  double std_error = 0;  // of the perplexity, as llama-perplexity reports it
  double mean_nll = 0;   // nats per token
  int64_t tokens_scored = 0;
  int64_t sequences = 0;
  int64_t scored_bytes = 0;  // UTF-8 bytes of the scored tokens' text
  double bits_per_byte = 0;
  double seconds = 0;
  double tokens_per_second = 0;  // tokens evaluated (not only scored) per second
};

PerplexityResult evaluate_perplexity(Transformer& model, const Tokenizer& tokenizer,
                                     const std::vector<EvalSequence>& sequences);

struct KldResult {
  double mean_kld = 0;  // mean over scored positions of KL(base || candidate), nats
  double kld_std_error = 0;
  double kld_p99 = 0;
  double kld_median = 0;
  double kld_max = 0;
  double top1_agreement = 0;  // share of positions where both argmaxes agree
  int64_t tokens_scored = 0;
  PerplexityResult base;
  PerplexityResult candidate;
  double seconds = 0;
};

// KL divergence of `candidate` from `base` (compare_models with one
// candidate; defined in compare.cc).
KldResult evaluate_kld(Transformer& base, Transformer& candidate, const Tokenizer& tokenizer,
                       const std::vector<EvalSequence>& sequences);

// Fills mean_nll, perplexity, std_error (as llama-perplexity computes it)
// and bits_per_byte from the summed NLL and squared NLL; tokens_scored and
// scored_bytes must be set.
void finish_perplexity(PerplexityResult& result, double nll_sum, double nll2_sum);

// Log-softmax of one row of logits, in double for the normaliser.
void log_softmax(const float* logits, int64_t vocab, std::vector<double>& out);

// Byte count of the text of tokens[begin, end), counting a leading space
// that decoding alone would drop.
int64_t span_bytes(const Tokenizer& tokenizer, std::span<const int32_t> tokens, int64_t begin,
                   int64_t end);

}  // namespace optiq
