// Quantizers for the k-quants with a min: Q2_K, Q4_K and Q5_K.
//
// Each super-block of 256 starts from llama.cpp's choice (ggml v0.21.0
// quantize_row_q*_K_ref without importance, quantize_row_q*_K_impl with it)
// and is then refined (ggml_refine.h) against the objective
// sum_i w_i (x_i - dequant_i)^2, w_i = importance_i or 1.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "optiq/quant/ggml_blocks.h"
#include "optiq/quant/ggml_kquant_common.h"
#include "optiq/quant/ggml_refine.h"
#include "optiq/quant/ggml_search.h"
#include "optiq/quant/ggml_simd.h"

namespace optiq::ggml_internal {
namespace {

struct AffineRecipe {
  int sub_count;  // sub-blocks per super-block
  int nmax;       // largest level
  int code_max;   // largest scale / min code
  // llama.cpp's search parameters without importance (reference quantizer).
  float ref_rmin;
  float ref_rdelta;
  int ref_steps;
};

constexpr AffineRecipe kQ2K{16, 3, 15, -0.5f, 0.1f, 15};
constexpr AffineRecipe kQ4K{8, 15, 63, -1.0f, 0.1f, 20};
constexpr AffineRecipe kQ5K{8, 31, 63, -0.5f, 0.1f, 15};

int to_code(float value, int code_max) {
  return static_cast<int>(
      clamp_level(round_even(value), 0.0f, static_cast<float>(code_max)));
}

// Runs llama.cpp's per-sub-block affine search with the given search
// weights (256, in element order) on every sub-block; writes each
// sub-block's scale and min.
void search_sub_blocks(const float* weights, const AffineRecipe& recipe,
                       float rmin, float rdelta, int steps, bool use_mad,
                       const AffineSuperBlock& b, float* scales, float* mins) {
  const int n = b.sub_size;
  Vec8 lane_weights[32];
  Vec8 levels[32];
  for (int g = 0; g < b.groups; ++g) {
    load_lanes(weights + g * kLanes * n, n, kLanes, lane_weights);
    Vec8 scale;
    Vec8 min;
    search_affine8(n, recipe.nmax, b.x[g], lane_weights, rmin, rdelta, steps,
                   use_mad, levels, &scale, &min);
    for (int j = 0; j < kLanes; ++j) {
      scales[g * kLanes + j] = scale[j];
      mins[g * kLanes + j] = min[j];
    }
  }
}

void set_codes(const int* sc, const int* m, AffineSuperBlock& b) {
  for (int g = 0; g < b.groups; ++g) {
    for (int j = 0; j < kLanes; ++j) {
      b.sc[g][j] = static_cast<float>(sc[g * kLanes + j]);
      b.m[g][j] = static_cast<float>(m[g * kLanes + j]);
    }
  }
}

// llama.cpp's reference start: per-sub-block search with heuristic
// weights, then codes relative to the largest scale and min.
void start_reference(const float* x, const AffineRecipe& recipe,
                     AffineSuperBlock& b) {
  const int n = b.sub_size;
  const bool is_q2k = recipe.sub_count == 16;
  float weights[kSuperBlock];
  for (int j = 0; j < recipe.sub_count; ++j) {
    const float* xj = x + j * n;
    float av_x = 0.0f;
    if (!is_q2k) {
      float sum_x2 = 0.0f;
      for (int i = 0; i < n; ++i) sum_x2 += xj[i] * xj[i];
      av_x = std::sqrt(sum_x2 / static_cast<float>(n));
    }
    for (int i = 0; i < n; ++i) weights[j * n + i] = av_x + std::fabs(xj[i]);
  }
  float scales[16];
  float mins[16];
  // Q2_K's reference search minimises absolute rather than squared error.
  search_sub_blocks(weights, recipe, recipe.ref_rmin, recipe.ref_rdelta,
                    recipe.ref_steps, is_q2k, b, scales, mins);
  float max_scale = 0.0f;
  float max_min = 0.0f;
  for (int j = 0; j < recipe.sub_count; ++j) {
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float code_max = static_cast<float>(recipe.code_max);
  const float inv_scale = max_scale > 0.0f ? code_max / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? code_max / max_min : 0.0f;
  int sc[16] = {};
  int m[16] = {};
  for (int j = 0; j < recipe.sub_count; ++j) {
    sc[j] = to_code(inv_scale * scales[j], recipe.code_max);
    m[j] = to_code(inv_min * mins[j], recipe.code_max);
  }
  set_codes(sc, m, b);
  b.d = round_to_f16(max_scale / code_max);
  b.dmin = round_to_f16(max_min / code_max);
}

// llama.cpp's start with importance: search weights
// importance * sqrt(sigma^2 + x^2), then codes fitted to the scales and
// mins weighted by each sub-block's total weight.
void start_importance(const float* x, const float* importance,
                      const AffineRecipe& recipe, AffineSuperBlock& b) {
  const int n = b.sub_size;
  float sum_x2 = 0.0f;
  for (int i = 0; i < kSuperBlock; ++i) sum_x2 += x[i] * x[i];
  // Q2_K uses the mean square; Q4_K and Q5_K use twice it.
  const float sigma2 = (recipe.sub_count == 16 ? 1.0f : 2.0f) * sum_x2 /
                       static_cast<float>(kSuperBlock);
  float weights[kSuperBlock];
  float sub_weight[16];
  for (int j = 0; j < recipe.sub_count; ++j) {
    float sum_w = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int e = j * n + i;
      weights[e] = importance[e] * std::sqrt(sigma2 + x[e] * x[e]);
      sum_w += weights[e];
    }
    sub_weight[j] = sum_w;
  }
  float scales[16];
  float mins[16];
  search_sub_blocks(weights, recipe, -0.9f, 0.05f, 36, false, b, scales, mins);
  uint8_t scale_codes[16];
  uint8_t min_codes[16];
  const float d = search_positive(recipe.sub_count, recipe.code_max, scales,
                                  sub_weight, scale_codes);
  const float dmin = search_positive(recipe.sub_count, recipe.code_max, mins,
                                     sub_weight, min_codes);
  int sc[16] = {};
  int m[16] = {};
  for (int j = 0; j < recipe.sub_count; ++j) {
    sc[j] = scale_codes[j];
    m[j] = min_codes[j];
  }
  set_codes(sc, m, b);
  b.d = round_to_f16(d);
  b.dmin = round_to_f16(dmin);
}

// Chooses d, dmin, codes and levels for one super-block.
void fit_super_block(const float* x, const float* importance,
                     const AffineRecipe& recipe, AffineSuperBlock& b) {
  b.groups = recipe.sub_count / kLanes;
  b.sub_size = kSuperBlock / recipe.sub_count;
  b.nmax = recipe.nmax;
  b.code_max = recipe.code_max;
  float w[kSuperBlock];
  const bool weighted = objective_weights(importance, kSuperBlock, w);
  const int n = b.sub_size;
  for (int g = 0; g < b.groups; ++g) {
    load_lanes(x + g * kLanes * n, n, kLanes, b.x[g]);
    load_lanes(w + g * kLanes * n, n, kLanes, b.w[g]);
  }
  if (weighted) {
    start_importance(x, importance, recipe, b);
  } else {
    start_reference(x, recipe, b);
  }
  refine_affine(kRefineRounds, b);
}

// Codes and levels of a fitted super-block in element order.
struct AffineCodes {
  int sc[16];
  int m[16];
  int q[kSuperBlock];
};

AffineCodes codes_of(const AffineSuperBlock& b) {
  AffineCodes codes;
  float sc[16];
  float m[16];
  float q[kSuperBlock];
  store_lanes(b.sc, 1, kLanes, sc);
  store_lanes(b.m, 1, kLanes, m);
  if (b.groups == 2) {
    store_lanes(b.sc + 1, 1, kLanes, sc + kLanes);
    store_lanes(b.m + 1, 1, kLanes, m + kLanes);
  }
  for (int g = 0; g < b.groups; ++g) {
    store_lanes(b.q[g], b.sub_size, kLanes, q + g * kLanes * b.sub_size);
  }
  for (int j = 0; j < b.groups * kLanes; ++j) {
    codes.sc[j] = static_cast<int>(sc[j]);
    codes.m[j] = static_cast<int>(m[j]);
  }
  for (int e = 0; e < kSuperBlock; ++e) codes.q[e] = static_cast<int>(q[e]);
  return codes;
}

}  // namespace

void quantize_row_q2_k(const float* x, int64_t n, const float* importance,
                       uint8_t* out) {
  AffineSuperBlock b;
  for (int64_t s = 0; s < n / kSuperBlock; ++s) {
    const int64_t offset = s * kSuperBlock;
    fit_super_block(x + offset, importance ? importance + offset : nullptr,
                    kQ2K, b);
    const AffineCodes c = codes_of(b);
    BlockQ2_K block{};
    for (int j = 0; j < 16; ++j) {
      block.scales[j] = static_cast<uint8_t>(c.sc[j] | (c.m[j] << 4));
    }
    for (int e = 0; e < kSuperBlock; ++e) {
      const int byte = 32 * (e / 128) + e % 32;
      const int shift = 2 * ((e % 128) / 32);
      block.qs[byte] = static_cast<uint8_t>(block.qs[byte] | (c.q[e] << shift));
    }
    block.d = float_to_f16(b.d);
    block.dmin = float_to_f16(b.dmin);
    std::memcpy(out + s * sizeof block, &block, sizeof block);
  }
}

void quantize_row_q4_k(const float* x, int64_t n, const float* importance,
                       uint8_t* out) {
  AffineSuperBlock b;
  for (int64_t s = 0; s < n / kSuperBlock; ++s) {
    const int64_t offset = s * kSuperBlock;
    fit_super_block(x + offset, importance ? importance + offset : nullptr,
                    kQ4K, b);
    const AffineCodes c = codes_of(b);
    BlockQ4_K block{};
    block.d = float_to_f16(b.d);
    block.dmin = float_to_f16(b.dmin);
    for (int j = 0; j < 8; ++j) {
      pack_scale_min_k4(j, c.sc[j], c.m[j], block.scales);
    }
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        block.qs[32 * g + l] =
            static_cast<uint8_t>(c.q[64 * g + l] | (c.q[64 * g + 32 + l] << 4));
      }
    }
    std::memcpy(out + s * sizeof block, &block, sizeof block);
  }
}

void quantize_row_q5_k(const float* x, int64_t n, const float* importance,
                       uint8_t* out) {
  AffineSuperBlock b;
  for (int64_t s = 0; s < n / kSuperBlock; ++s) {
    const int64_t offset = s * kSuperBlock;
    fit_super_block(x + offset, importance ? importance + offset : nullptr,
                    kQ5K, b);
    const AffineCodes c = codes_of(b);
    BlockQ5_K block{};
    block.d = float_to_f16(b.d);
    block.dmin = float_to_f16(b.dmin);
    for (int j = 0; j < 8; ++j) {
      pack_scale_min_k4(j, c.sc[j], c.m[j], block.scales);
    }
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        const int low = c.q[64 * g + l];
        const int high = c.q[64 * g + 32 + l];
        block.qs[32 * g + l] =
            static_cast<uint8_t>((low & 0x0f) | ((high & 0x0f) << 4));
        block.qh[l] =
            static_cast<uint8_t>(block.qh[l] | ((low >> 4) << (2 * g)) |
                                 ((high >> 4) << (2 * g + 1)));
      }
    }
    std::memcpy(out + s * sizeof block, &block, sizeof block);
  }
}

}  // namespace optiq::ggml_internal
