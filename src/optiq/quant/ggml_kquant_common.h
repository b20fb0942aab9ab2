// Helpers shared by the block quantizers. Internal to optiq_quant_ggml.
#pragma once

namespace optiq::ggml_internal {

// Refinement rounds per super-block (ggml_refine.h). Eight rounds lowered
// the squared error on Gaussian rows by less than 1% more than three.
constexpr int kRefineRounds = 3;

// Fills w[0..n) with the objective's weights for one block: the importance
// values when given and not all zero, else 1. Returns true when importance
// is used. A block whose importance is all zero is scored and started as if
// there were none, because every encoding would score zero.
inline bool objective_weights(const float* importance, int n, float* w) {
  if (importance != nullptr) {
    float sum = 0.0f;
    for (int i = 0; i < n; ++i) sum += importance[i];
    if (sum > 0.0f) {
      for (int i = 0; i < n; ++i) w[i] = importance[i];
      return true;
    }
  }
  for (int i = 0; i < n; ++i) w[i] = 1.0f;
  return false;
}

}  // namespace optiq::ggml_internal
