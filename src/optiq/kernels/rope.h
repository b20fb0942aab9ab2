// Rotary position embedding (RoPE) tables and application.
#pragma once

#include <cstdint>
#include <vector>

#include "optiq/model/config.h"

namespace optiq {

// Inverse frequencies theta^(-2i/d) for i in [0, head_dim/2), in float as
// Hugging Face and llama2.c compute them, after rope scaling: `linear`
// divides every frequency by the factor; `llama3` keeps high frequencies,
// divides low ones (wavelength above original_max/low_freq_factor) by the
// factor and interpolates smoothly in between (Meta's Llama 3.1 formula).
std::vector<float> rope_inverse_frequencies(const ModelConfig& config);

class RopeTable {
 public:
  explicit RopeTable(const ModelConfig& config);

  // Computes the tables for positions [0, positions). Not thread-safe: call
  // before applying from several threads.
  void reserve(int64_t positions);

  // Rotates `n_heads` heads of `x` (one token) at `position`, which must be
  // below the reserved count.
  void apply(float* x, int64_t n_heads, int64_t position) const;

 private:

  int64_t half_ = 0;
  RopeLayout layout_;
  std::vector<float> inverse_frequencies_;
  std::vector<float> cos_;  // [position][half]
  std::vector<float> sin_;
  int64_t positions_ = 0;
};

}  // namespace optiq
