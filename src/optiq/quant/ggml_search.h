// Scale searches of llama.cpp's quantizers, reimplemented from ggml v0.21.0
// ggml/src/ggml-quants.c (make_qx_quants, make_q3_quants, make_qkx2_quants
// and make_qkx3_quants, make_qp_quants). They give the starting point that
// the refinement (ggml_refine.h, ggml_legacy.cc) then improves. Internal to
// optiq_quant_ggml.
//
// Differences from ggml: the *8 searches run eight groups side by side (see
// ggml_simd.h). The affine search scores a candidate from its weighted sums,
// expanding sum w (s l + m - x)^2, instead of a second pass over the
// elements. So a search can pick a different candidate from ggml's when two
// are within rounding of each other. The refinement scores the encoded
// result either way.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "optiq/quant/ggml_simd.h"

namespace optiq::ggml_internal {

// Groups whose largest magnitude is below this are all zeros (ggml's
// GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// Rounds to the nearest integer with ties to even, as ggml's nearest_int
// does for |v| < 2^22.
inline float round_even(float v) { return std::nearbyint(v); }

inline float clamp_level(float v, float lo, float hi) {
  return std::min(hi, std::max(lo, v));
}

// Symmetric scale search (make_qx_quants with weights) on n <= 32 values:
// finds s and integer l_i in [-nmax, nmax - 1] minimising
// sum_i w_i (x_i - s l_i)^2 over 19 candidate inverse scales
// -(nmax + 0.1 k) / max, k = -9..9, where max is the element of largest
// magnitude. Stores l_i + nmax in `levels` and returns s (0 when every
// |x_i| < kGroupMaxEps).
float search_symmetric(int n, int nmax, const float* x, const float* w,
                       int8_t* levels);

// search_symmetric on eight groups of n in {16, 32} at once: x[i], w[i] hold
// element i of every group. Writes the signed levels l_i to levels[i] and
// the scales to *scale.
void search_symmetric8(int n, int nmax, const Vec8* x, const Vec8* w,
                       Vec8* levels, Vec8* scale);

// Symmetric search of llama.cpp's Q3_K reference quantizer (make_q3_quants
// with do_rmse) on n <= 32 values: rounds at -nmax / max, then up to 5
// passes move single levels to where they raise
// sum(w x l)^2 / sum(w l^2), with w = x^2. Stores l_i + nmax in `levels`
// and returns the least-squares scale.
float search_symmetric_q3(int n, int nmax, const float* x, int8_t* levels);

// Affine search (make_qkx2_quants / make_qkx3_quants) on eight groups of
// n in {16, 32} at once: x_i ~ s l_i - m with l_i in [0, nmax] and m >= 0.
// Tries inverse scales (rmin + rdelta k + nmax) / (max - min) for
// k = 0..nstep, fits s and m by weighted least squares for each, and keeps
// the one with the lowest weighted error: absolute when `use_mad`, else
// squared. Writes l_i to levels[i], s to *scale and m to *min.
void search_affine8(int n, int nmax, const Vec8* x, const Vec8* w, float rmin,
                    float rdelta, int nstep, bool use_mad, Vec8* levels,
                    Vec8* scale, Vec8* min);

// Scale search for n <= 16 non-negative values (make_qp_quants):
// x_i ~ s l_i with l_i in [0, nmax], weights w. Quantizes sub-block scales
// and mins against the super-block scale. Stores l_i and returns s.
float search_positive(int n, int nmax, const float* x, const float* w,
                      uint8_t* levels);

}  // namespace optiq::ggml_internal
