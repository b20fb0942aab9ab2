// Error-minimising search over clipped ranges for one affine group.
// Internal to the affine*.cc files.
#pragma once

#include "optiq/core/dtype.h"
#include "optiq/quant/affine_group.h"

namespace optiq::affine_detail {

// Searches for the scale and bias with the lowest estimated weighted squared
// error. Candidates are MLX's rule on a few ranges shrunk from [lo, hi], each
// followed by a weighted least-squares refit of scale and bias for its codes.
// `base` is MLX's rule on [lo, hi] and is returned when nothing beats it.
// The result is rounded to `scale_dtype`, finite, and has a nonzero scale.
// The estimate ignores the rounding of dequantized values to the scale
// dtype, so the caller compares the winner with `base` after exact
// dequantization.
// `weight`: `count` non-negative values, not all zero; `count` is a multiple
// of kLanes and at most kMaxGroupSize.
GroupParams search_clipped_params(const float* x, const float* weight,
                                  int count, int bits, DType scale_dtype,
                                  float lo, float hi, GroupParams base);

}  // namespace optiq::affine_detail
