// Quantizers for the k-quants without a min: Q3_K and Q6_K.
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

// Codes relative to the sub-block scale of largest magnitude, which gets
// code_min (llama.cpp maps it to -32 for Q3_K and -128 for Q6_K).
void codes_from_scales(const float* scales, SymmetricSuperBlock& b,
                       int* codes) {
  float max_scale = 0.0f;
  float max_abs = 0.0f;
  for (int j = 0; j < 16; ++j) {
    if (std::fabs(scales[j]) > max_abs) {
      max_abs = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  if (max_abs < kGroupMaxEps) {
    b.d = 0.0f;
    for (int j = 0; j < 16; ++j) codes[j] = 0;
    return;
  }
  const float iscale = static_cast<float>(b.code_min) / max_scale;
  for (int j = 0; j < 16; ++j) {
    codes[j] = static_cast<int>(clamp_level(round_even(iscale * scales[j]),
                                            static_cast<float>(b.code_min),
                                            static_cast<float>(b.code_max)));
  }
  b.d = round_to_f16(1.0f / iscale);
}

// Runs search_symmetric8 on the 16 sub-blocks with the given search
// weights (256, in element order); writes each sub-block's scale.
void search_sub_blocks(const float* weights, int nmax,
                       const SymmetricSuperBlock& b, float* scales) {
  Vec8 lane_weights[16];
  Vec8 levels[16];
  for (int g = 0; g < 2; ++g) {
    load_lanes(weights + g * kLanes * 16, 16, kLanes, lane_weights);
    Vec8 scale;
    search_symmetric8(16, nmax, b.x[g], lane_weights, levels, &scale);
    for (int j = 0; j < kLanes; ++j) scales[g * kLanes + j] = scale[j];
  }
}

// Q3_K start. Without importance: llama.cpp's make_q3_quants per sub-block.
// With it: weighted search per sub-block with weights
// importance * sqrt(sigma^2 + x^2), then the 6-bit codes fitted to the
// sub-block scales by a second weighted search.
void start_q3k(const float* x, const float* importance, SymmetricSuperBlock& b,
               int* codes) {
  float scales[16];
  if (importance == nullptr) {
    int8_t levels[16];
    for (int j = 0; j < 16; ++j) {
      scales[j] = search_symmetric_q3(16, 4, x + 16 * j, levels);
    }
    codes_from_scales(scales, b, codes);
    return;
  }
  float sum_x2 = 0.0f;
  for (int i = 0; i < kSuperBlock; ++i) sum_x2 += x[i] * x[i];
  const float sigma2 = 2.0f * sum_x2 / static_cast<float>(kSuperBlock);
  float weights[kSuperBlock];
  float sub_weight[16] = {};
  for (int e = 0; e < kSuperBlock; ++e) {
    weights[e] = importance[e] * std::sqrt(sigma2 + x[e] * x[e]);
    sub_weight[e / 16] += weights[e];
  }
  search_sub_blocks(weights, 4, b, scales);
  int8_t shifted_codes[16];
  const float d = search_symmetric(16, 32, scales, sub_weight, shifted_codes);
  for (int j = 0; j < 16; ++j) codes[j] = shifted_codes[j] - 32;
  b.d = round_to_f16(d);
}

// Q6_K start: llama.cpp's weighted symmetric search per sub-block, with
// weights x^2 without importance and the importance itself with it.
void start_q6k(const float* x, const float* importance, SymmetricSuperBlock& b,
               int* codes) {
  float weights[kSuperBlock];
  for (int e = 0; e < kSuperBlock; ++e) {
    weights[e] = importance ? importance[e] : x[e] * x[e];
  }
  float scales[16];
  search_sub_blocks(weights, 32, b, scales);
  codes_from_scales(scales, b, codes);
}

// Loads one super-block, runs `start` and the refinement.
template <typename Start>
void fit_super_block(const float* x, const float* importance, Start&& start,
                     SymmetricSuperBlock& b) {
  float w[kSuperBlock];
  const bool weighted = objective_weights(importance, kSuperBlock, w);
  for (int g = 0; g < 2; ++g) {
    load_lanes(x + g * kLanes * 16, 16, kLanes, b.x[g]);
    load_lanes(w + g * kLanes * 16, 16, kLanes, b.w[g]);
  }
  int codes[16];
  start(x, weighted ? importance : nullptr, b, codes);
  for (int j = 0; j < 16; ++j) {
    b.sc[j / kLanes][j % kLanes] = static_cast<float>(codes[j]);
  }
  refine_symmetric(kRefineRounds, b);
}

// Scale codes and levels of a fitted super-block in element order.
struct SymmetricCodes {
  int sc[16];
  int q[kSuperBlock];
};

SymmetricCodes codes_of(const SymmetricSuperBlock& b) {
  SymmetricCodes codes;
  float sc[16];
  float q[kSuperBlock];
  for (int g = 0; g < 2; ++g) {
    store_lanes(b.sc + g, 1, kLanes, sc + g * kLanes);
    store_lanes(b.q[g], 16, kLanes, q + g * kLanes * 16);
  }
  for (int j = 0; j < 16; ++j) codes.sc[j] = static_cast<int>(sc[j]);
  for (int e = 0; e < kSuperBlock; ++e) codes.q[e] = static_cast<int>(q[e]);
  return codes;
}

}  // namespace

void quantize_row_q3_k(const float* x, int64_t n, const float* importance,
                       uint8_t* out) {
  SymmetricSuperBlock b;
  b.qmin = -4;
  b.qmax = 3;
  b.code_min = -32;
  b.code_max = 31;
  for (int64_t s = 0; s < n / kSuperBlock; ++s) {
    const float* xs = x + s * kSuperBlock;
    const float* is = importance ? importance + s * kSuperBlock : nullptr;
    fit_super_block(xs, is, start_q3k, b);
    const SymmetricCodes c = codes_of(b);

    BlockQ3_K block{};
    for (int j = 0; j < 16; ++j) {
      const int code = c.sc[j] + 32;
      block.scales[j % 8] = static_cast<uint8_t>(
          block.scales[j % 8] | ((code & 0x0f) << (4 * (j / 8))));
      block.scales[8 + j % 4] = static_cast<uint8_t>(
          block.scales[8 + j % 4] | ((code >> 4) << (2 * (j / 4))));
    }
    for (int e = 0; e < kSuperBlock; ++e) {
      const int stored = c.q[e] + 4;  // 0..7
      if (stored > 3) {
        block.hmask[e % 32] =
            static_cast<uint8_t>(block.hmask[e % 32] | (1 << (e / 32)));
      }
      const int half = e / 128;
      const int within = e % 128;
      block.qs[32 * half + within % 32] =
          static_cast<uint8_t>(block.qs[32 * half + within % 32] |
                               ((stored & 3) << (2 * (within / 32))));
    }
    block.d = float_to_f16(b.d);
    std::memcpy(out + s * sizeof block, &block, sizeof block);
  }
}

void quantize_row_q6_k(const float* x, int64_t n, const float* importance,
                       uint8_t* out) {
  SymmetricSuperBlock b;
  b.qmin = -32;
  b.qmax = 31;
  b.code_min = -128;
  b.code_max = 127;
  for (int64_t s = 0; s < n / kSuperBlock; ++s) {
    const float* xs = x + s * kSuperBlock;
    const float* is = importance ? importance + s * kSuperBlock : nullptr;
    fit_super_block(xs, is, start_q6k, b);
    const SymmetricCodes c = codes_of(b);

    BlockQ6_K block{};
    for (int e = 0; e < kSuperBlock; ++e) {
      const int stored = c.q[e] + 32;  // 0..63
      const int half = e / 128;
      const int k = (e % 128) / 32;
      const int i = e % 32;
      uint8_t& low = block.ql[64 * half + 32 * (k % 2) + i];
      low = static_cast<uint8_t>(low | ((stored & 0x0f) << (4 * (k / 2))));
      uint8_t& high = block.qh[32 * half + i];
      high = static_cast<uint8_t>(high | ((stored >> 4) << (2 * k)));
    }
    for (int j = 0; j < 16; ++j) {
      block.scales[j] = static_cast<int8_t>(c.sc[j]);
    }
    block.d = float_to_f16(b.d);
    std::memcpy(out + s * sizeof block, &block, sizeof block);
  }
}

}  // namespace optiq::ggml_internal
