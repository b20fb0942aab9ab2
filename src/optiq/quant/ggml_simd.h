// Eight-lane float vectors for the quantizers, written with the GCC/Clang
// vector extension so that the compiler emits AVX2 (or two SSE operations
// per vector without AVX). Internal to optiq_quant_ggml.
//
// The quantizers search eight sub-blocks (or eight 32-element blocks) at
// once, one per lane: element i of sub-block j is lane j of vector i. Every
// per-lane computation is the scalar algorithm, so no horizontal sums are
// needed and results do not depend on the vector width.
#pragma once

#include <cstdint>
#include <cstring>

#include "optiq/core/half.h"

// Without AVX, GCC warns that 32-byte vectors passed or returned by value
// use a different ABI than with AVX. Vec8 values never cross the library's
// interface (its functions take Vec8 pointers), so the warning is moot.
// The helpers take Vec8 by reference and are always inlined, so that GCC
// emits no out-of-line copies and no ABI notes for them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace optiq::ggml_internal {

using Vec8 = float __attribute__((vector_size(32)));
using Mask8 = int32_t __attribute__((vector_size(32)));  // lanes -1 or 0
using Vec4 = float __attribute__((vector_size(16)));

constexpr int kLanes = 8;

[[gnu::always_inline]] inline Vec8 splat8(float x) {
  return Vec8{x, x, x, x, x, x, x, x};
}

[[gnu::always_inline]] inline Vec8 select8(const Mask8& mask,
                                           const Vec8& if_set,
                                           const Vec8& if_clear) {
  return mask ? if_set : if_clear;
}

[[gnu::always_inline]] inline Vec8 min8(const Vec8& a, const Vec8& b) {
  return a < b ? a : b;
}

[[gnu::always_inline]] inline Vec8 max8(const Vec8& a, const Vec8& b) {
  return a > b ? a : b;
}

[[gnu::always_inline]] inline Vec8 clamp8(const Vec8& v, const Vec8& lo,
                                          const Vec8& hi) {
  return min8(max8(v, lo), hi);
}

[[gnu::always_inline]] inline Vec8 abs8(const Vec8& v) {
  return v < 0.0f ? -v : v;
}

[[gnu::always_inline]] inline bool any8(const Mask8& mask) {
  for (int i = 0; i < kLanes; ++i) {
    if (mask[i] != 0) return true;
  }
  return false;
}

// Rounds each lane to the nearest integer, ties to even, for |v| < 2^22:
// adding 1.5 * 2^23 leaves no fraction bits, so the float adder rounds
// (the same trick as ggml's nearest_int). NOTE: this relies on strict IEEE
// arithmetic; -ffast-math would fold the two additions away.
[[gnu::always_inline]] inline Vec8 round_even8(const Vec8& v) {
  const Vec8 magic = splat8(12582912.0f);
  return (v + magic) - magic;
}

// 1 / v, with 0 where v is 0.
[[gnu::always_inline]] inline Vec8 inverse_or_zero8(const Vec8& v) {
  const Mask8 nonzero = v != 0.0f;
  const Vec8 safe = select8(nonzero, v, splat8(1.0f));
  return select8(nonzero, 1.0f / safe, splat8(0.0f));
}

// Rounds each lane to the nearest F16 value (ties to even).
[[gnu::always_inline]] inline Vec8 round_to_f16_8(const Vec8& v) {
  Vec8 out;
  for (int i = 0; i < kLanes; ++i) out[i] = f16_to_float(float_to_f16(v[i]));
  return out;
}

// Sum of the eight lanes in the fixed order
// ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)), through shuffles
// (reading lanes one by one makes GCC move them through integer registers).
[[gnu::always_inline]] inline float sum8(const Vec8& v) {
  const Vec4 halves = __builtin_shufflevector(v, v, 0, 1, 2, 3) +
                      __builtin_shufflevector(v, v, 4, 5, 6, 7);
  const Vec4 quarters =
      halves + __builtin_shufflevector(halves, halves, 2, 3, 0, 1);
  return quarters[0] + quarters[1];
}

// Transposes `lanes` (<= 8) runs of n floats, run j starting at
// src + j * n, into out[0..n): out[i][j] = src[j * n + i]. Lanes past
// `lanes` are zero.
inline void load_lanes(const float* src, int n, int lanes, Vec8* out) {
  for (int i = 0; i < n; ++i) {
    float column[kLanes] = {};
    for (int j = 0; j < lanes; ++j) column[j] = src[j * n + i];
    std::memcpy(&out[i], column, sizeof column);
  }
}

// Inverse of load_lanes: dst[j * n + i] = v[i][j] for j < lanes.
inline void store_lanes(const Vec8* v, int n, int lanes, float* dst) {
  for (int i = 0; i < n; ++i) {
    float column[kLanes];
    std::memcpy(column, &v[i], sizeof column);
    for (int j = 0; j < lanes; ++j) dst[j * n + i] = column[j];
  }
}

}  // namespace optiq::ggml_internal
