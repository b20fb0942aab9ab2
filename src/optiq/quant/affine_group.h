// Per-group arithmetic of affine quantization: rounding to the scale dtype,
// MLX's min/max rule, code selection, MLX-exact dequantization and the
// clipping search. Internal to the affine*.cc files; the public API is in
// affine.h.
#pragma once

#include <bit>
#include <cstdint>

#include "optiq/core/dtype.h"

namespace optiq::affine_detail {

inline constexpr int kMaxGroupSize = 128;

// Reductions over a group keep kLanes independent partial sums (element j
// goes to lane j % kLanes), so that compilers vectorize them without
// reassociating float math, and the result does not depend on the thread
// count or the vector width.
inline constexpr int kLanes = 8;

// Adds the kLanes partial sums pairwise in a fixed order; clobbers `lanes`.
inline float reduce_lanes(float* lanes) {
  for (int width = kLanes / 2; width > 0; width /= 2) {
    for (int l = 0; l < width; ++l) lanes[l] += lanes[l + width];
  }
  return lanes[0];
}

// Rounds a float to the nearest F16 value (ties to even) and returns it as a
// float. Values past the F16 range become infinity and NaN stays NaN. The
// function is branch-free so that loops calling it vectorize; it matches
// f16_to_float(float_to_f16(x)).
inline float round_to_f16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t sign = bits & 0x80000000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  // Normal F16 range: drop 13 mantissa bits with round-to-nearest-even.
  const uint32_t normal =
      (magnitude + 0xfffu + ((magnitude >> 13) & 1u)) & 0xffffe000u;
  // Below 2^-14 the F16 grid is multiples of 2^-24, which is the float
  // spacing just above 0.5, so adding and removing 0.5 rounds to that grid.
  const float tiny = (std::bit_cast<float>(magnitude) + 0.5f) - 0.5f;
  uint32_t rounded =
      magnitude < 0x38800000u ? std::bit_cast<uint32_t>(tiny) : normal;
  // 65520 and above round to infinity; NaN is passed through as quiet NaN.
  rounded = magnitude >= 0x477ff000u ? 0x7f800000u : rounded;
  rounded = magnitude > 0x7f800000u ? (magnitude | 0x00400000u) : rounded;
  return std::bit_cast<float>(sign | rounded);
}

// Rounds a float to the nearest BF16 value (ties to even), returned as a
// float; matches bf16_to_float(float_to_bf16(x)).
inline float round_to_bf16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
  const bool is_nan = (bits & 0x7fffffffu) > 0x7f800000u;
  return std::bit_cast<float>(is_nan ? (bits | 0x00400000u) : rounded);
}

// Rounds to a scale dtype (F16, BF16 or F32).
inline float round_to_scale_dtype(float x, DType dtype) {
  if (dtype == DType::F16) return round_to_f16(x);
  if (dtype == DType::BF16) return round_to_bf16(x);
  return x;
}

// Scale and bias of one group, already rounded to the scale dtype.
struct GroupParams {
  float scale = 0.0f;
  float bias = 0.0f;
};

// Computes MLX's parameters for a group with range [lo, hi], before
// rounding. The step is (hi - lo)/(2^bits - 1), at least 1e-7. The
// larger-magnitude edge becomes the bias (code 0), and the scale is negative
// when that edge is the max. The scale is then nudged to edge/q0 with
// q0 = rint(edge/scale), so that 0 also falls on a code. When q0 is 0, the
// bias is 0 and the scale keeps its unnudged value.
GroupParams mlx_group_params(float lo, float hi, int bits);

// Codes q = clamp(rint((x - bias)/scale), 0, 2^bits - 1), as MLX computes
// them; `params.scale` must be nonzero.
void quantize_group_codes(const float* x, int count, GroupParams params,
                          int bits, uint8_t* codes);

// MLX-exact dequantization: out = R(R(scale·q) + bias) with R rounding to
// `scale_dtype`.
void dequantize_group(const uint8_t* codes, int count, GroupParams params,
                      DType scale_dtype, float* out);

// Outcome of quantizing one group. `ok` is false when the input contains NaN
// or infinity (then `finite_input` is false too) or when a rounded scale or
// bias is not finite.
struct GroupResult {
  GroupParams params;
  bool ok = true;
  bool finite_input = true;
};

// Chooses the parameters of one group of `count` values (a multiple of kLanes,
// at most kMaxGroupSize), writes its codes and, when `dequant` is not null,
// its MLX-exact dequantized values. `importance` is null or `count`
// non-negative weights. With `search_clipping` the group takes the clipped
// range of lowest weighted squared error, compared after exact
// dequantization, so the result is never worse than MLX's rule.
GroupResult quantize_group(const float* x, const float* importance, int count,
                           int bits, DType scale_dtype, bool search_clipping,
                           uint8_t* codes, float* dequant);

}  // namespace optiq::affine_detail
