// Memory a profile or an evaluation needs beyond the memory-mapped weights,
// estimated from the model's shape before the run starts, and the number of
// calibration sequences whose hidden states can be cached at once under a
// limit.
//
// What is counted (bytes, F32 unless noted):
//  - cached hidden states: (layers + 1) x seq_len x hidden per cached
//    sequence, so that perturbing layer l reruns only layers >= l;
//  - cached log-probabilities of the full-precision model: seq_len x vocab
//    per cached sequence while the batch's total stays within 1 GiB (beyond
//    that they are recomputed from the cached final hidden states);
//  - working buffers of one forward pass over seq_len tokens: the KV cache,
//    layer activations and logits;
//  - weights decoded to F32: two and a half copies of the largest tensor
//    (the original, its quantized copy and the quantizer's scratch).
// The mapped model file is reported apart: its pages are file-backed and
// the kernel can drop them under pressure.
#pragma once

#include <cstdint>

#include "optiq/model/model.h"

namespace optiq {

struct MemoryEstimate {
  uint64_t cached_states = 0;  // hidden states and log-probs of the batch
  uint64_t working = 0;        // forward buffers and decoded weights
  uint64_t mapped_weights = 0; // the model's weights as stored
  int64_t batch = 0;           // sequences cached at once
  uint64_t total() const { return cached_states + working; }
};

// Log-probabilities are cached when batch x seq_len x vocab floats stay
// within this count (1 GiB).
inline constexpr int64_t kMaxCachedLogProbs = int64_t{1} << 28;

// The profile's memory when `batch` of the calibration sequences are cached
// at once.
MemoryEstimate profile_memory(const Model& model, int64_t batch, int64_t seq_len);

// The largest batch <= sequences whose estimate fits `limit_bytes` (0: no
// limit). Throws optiq::Error stating the need and the limit when even one
// sequence does not fit.
MemoryEstimate fit_profile_memory(const Model& model, int64_t sequences, int64_t seq_len,
                                  uint64_t limit_bytes);

// Working memory of evaluating `models` models side by side over chunks of
// `ctx` tokens (perplexity: 1, KL divergence: 2).
MemoryEstimate eval_memory(const Model& model, int64_t ctx, int models);

// Physical memory of this machine in bytes (0 when unknown).
uint64_t physical_memory_bytes();

}  // namespace optiq
