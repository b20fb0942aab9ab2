// Quantizers for ggml's 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1 and
// Q8_0.
//
// Each block's candidate scales are llama.cpp's choice (ggml v0.21.0
// quantize_row_*_ref without importance, quantize_row_*_impl with it) and a
// weighted search against the objective sum_i w_i (x_i - dequant_i)^2 with
// w_i = importance_i or 1. The best candidate is then refined by
// least-squares refits and steps to adjacent F16 values, keeping only
// changes that lower the objective. Scores use the dequantizer's arithmetic
// (q * d + m, each operation rounded), so contraction into FMA is off here.
//
// Eight consecutive blocks are fitted side by side, one per SIMD lane
// (ggml_simd.h).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <cfloat>
#include <cmath>
#include <cstring>

#include "optiq/quant/ggml_blocks.h"
#include "optiq/quant/ggml_kquant_common.h"
#include "optiq/quant/ggml_search.h"
#include "optiq/quant/ggml_simd.h"

namespace optiq::ggml_internal {
namespace {

constexpr int kBlock = kLegacyBlock;

// Up to eight blocks of one row: x ~ q * d + m with q in [qmin, qmax].
struct BlockLanes {
  int lanes = 0;  // blocks in use; the other lanes hold zeros
  int qmin = 0;
  int qmax = 0;
  bool affine = false;  // m is 0 for the symmetric types
  Vec8 x[kBlock];
  Vec8 w[kBlock];
  Vec8 d;      // F16-representable
  Vec8 m;      // F16-representable
  Vec8 error;  // objective of (d, m) with nearest levels
};

[[gnu::always_inline]] inline Vec8 lane_error(const BlockLanes& b,
                                              const Vec8& d, const Vec8& m) {
  const Vec8 lo = splat8(static_cast<float>(b.qmin));
  const Vec8 hi = splat8(static_cast<float>(b.qmax));
  const Vec8 inv = inverse_or_zero8(d);
  Vec8 acc = splat8(0.0f);
  for (int i = 0; i < kBlock; ++i) {
    const Vec8 l = clamp8(round_even8((b.x[i] - m) * inv), lo, hi);
    const Vec8 r = l * d + m - b.x[i];
    acc += b.w[i] * r * r;
  }
  return acc;
}

void lane_levels(const BlockLanes& b, Vec8* q) {
  const Vec8 lo = splat8(static_cast<float>(b.qmin));
  const Vec8 hi = splat8(static_cast<float>(b.qmax));
  const Vec8 inv = inverse_or_zero8(b.d);
  for (int i = 0; i < kBlock; ++i) {
    q[i] = clamp8(round_even8((b.x[i] - b.m) * inv), lo, hi);
  }
}

// Rounds the candidate (d, m) to F16 and keeps it in the lanes where it is
// finite and scores lower. Returns whether any lane changed.
bool try_candidate(BlockLanes& b, const Vec8& d_wanted, const Vec8& m_wanted) {
  const Vec8 d = round_to_f16_8(d_wanted);
  const Vec8 m = b.affine ? round_to_f16_8(m_wanted) : splat8(0.0f);
  // NaN fails both comparisons, inf the second.
  const Mask8 finite = (abs8(d) <= FLT_MAX) & (abs8(m) <= FLT_MAX);
  const Vec8 e =
      lane_error(b, select8(finite, d, b.d), select8(finite, m, b.m));
  const Mask8 better = finite & (e < b.error);
  b.d = select8(better, d, b.d);
  b.m = select8(better, m, b.m);
  b.error = select8(better, e, b.error);
  return any8(better);
}

// Adjacent F16 value of each lane in direction `step` (+1 or -1 in the bit
// pattern, away from or toward zero). A lane keeps its value where the step
// would cross zero or reach inf.
[[gnu::always_inline]] inline Vec8 f16_step8(const Vec8& v, int step) {
  Vec8 out;
  for (int j = 0; j < kLanes; ++j) {
    const uint16_t bits = float_to_f16(v[j]);
    const int magnitude = (bits & 0x7fff) + step;
    out[j] =
        magnitude < 0 || magnitude >= 0x7c00
            ? v[j]
            : f16_to_float(static_cast<uint16_t>((bits & 0x8000) | magnitude));
  }
  return out;
}

// Least-squares refits of d (and m for affine types) to the current levels,
// then the adjacent F16 values, for up to three rounds.
void refine(BlockLanes& b) {
  const Vec8 zero = splat8(0.0f);
  Vec8 q[kBlock];
  for (int round = 0; round < 3; ++round) {
    lane_levels(b, q);
    Vec8 sw = zero, sq = zero, sqq = zero, sx = zero, sqx = zero;
    for (int i = 0; i < kBlock; ++i) {
      const Vec8 wq = b.w[i] * q[i];
      sw += b.w[i];
      sq += wq;
      sqq += wq * q[i];
      sx += b.w[i] * b.x[i];
      sqx += wq * b.x[i];
    }
    bool changed = false;
    if (b.affine) {
      const Vec8 det = sw * sqq - sq * sq;
      const Mask8 solvable = det > 0.0f;
      const Vec8 safe = select8(solvable, det, splat8(1.0f));
      changed |=
          try_candidate(b, select8(solvable, (sw * sqx - sq * sx) / safe, b.d),
                        select8(solvable, (sqq * sx - sq * sqx) / safe, b.m));
    } else {
      const Mask8 solvable = sqq > 0.0f;
      changed |= try_candidate(
          b, select8(solvable, sqx / select8(solvable, sqq, splat8(1.0f)), b.d),
          zero);
    }
    const Vec8 centre_d = b.d;
    const Vec8 centre_m = b.m;
    for (int dd = -1; dd <= 1; ++dd) {
      for (int dm = -1; dm <= 1; ++dm) {
        if ((dd == 0 && dm == 0) || (!b.affine && dm != 0)) continue;
        changed |= try_candidate(b, f16_step8(centre_d, dd),
                                 b.affine ? f16_step8(centre_m, dm) : zero);
      }
    }
    if (!changed) break;
  }
}

// Row-level spread sigma^2 = mean x^2 that llama.cpp's importance weights
// importance * sqrt(sigma^2 + x^2) use for the 32-element types.
float row_sigma2(const float* x, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  return static_cast<float>(sum / static_cast<double>(n));
}

// Loads up to eight blocks starting at x and their objective weights, and
// writes the search weights of llama.cpp's importance quantizers to
// `search_w`. Returns false when no block has importance, so that search_w
// equals the objective weights and need not be searched separately.
bool load_blocks(const float* x, const float* importance, int lanes,
                 float sigma2, BlockLanes& b, Vec8* search_w) {
  b.lanes = lanes;
  float w[kLanes * kBlock];
  float sw[kLanes * kBlock] = {};
  bool weighted = false;
  for (int j = 0; j < lanes; ++j) {
    const float* ij = importance ? importance + j * kBlock : nullptr;
    if (objective_weights(ij, kBlock, w + j * kBlock)) {
      weighted = true;
      for (int i = 0; i < kBlock; ++i) {
        const float xi = x[j * kBlock + i];
        sw[j * kBlock + i] = ij[i] * std::sqrt(sigma2 + xi * xi);
      }
    } else {
      // A block without importance is searched with its objective weights.
      std::copy(w + j * kBlock, w + (j + 1) * kBlock, sw + j * kBlock);
    }
  }
  load_lanes(x, kBlock, lanes, b.x);
  load_lanes(w, kBlock, lanes, b.w);
  load_lanes(sw, kBlock, lanes, search_w);
  b.d = splat8(0.0f);
  b.m = splat8(0.0f);
  b.error = lane_error(b, b.d, b.m);
  return weighted;
}

// Fits blocks of a symmetric type with levels in [-nmax, nmax - 1] (Q4_0:
// 8, Q5_0: 16).
void fit_symmetric(const float* x, const float* importance, int lanes,
                   float sigma2, int nmax, BlockLanes& b) {
  b.qmin = -nmax;
  b.qmax = nmax - 1;
  b.affine = false;
  Vec8 search_w[kBlock];
  Vec8 levels[kBlock];
  Vec8 scale;
  const Vec8 zero = splat8(0.0f);
  if (load_blocks(x, importance, lanes, sigma2, b, search_w)) {
    search_symmetric8(kBlock, nmax, b.x, search_w, levels, &scale);
    try_candidate(b, scale, zero);
  }
  // llama.cpp's reference scale: the largest magnitude maps to -nmax.
  Vec8 amax = zero;
  Vec8 max = zero;
  for (int i = 0; i < kBlock; ++i) {
    const Mask8 larger = abs8(b.x[i]) > amax;
    amax = select8(larger, abs8(b.x[i]), amax);
    max = select8(larger, b.x[i], max);
  }
  try_candidate(b, max / static_cast<float>(-nmax), zero);
  search_symmetric8(kBlock, nmax, b.x, b.w, levels, &scale);
  try_candidate(b, scale, zero);
  refine(b);
}

// Fits blocks of an affine type with levels in [0, nmax] (Q4_1: 15,
// Q5_1: 31).
void fit_affine(const float* x, const float* importance, int lanes,
                float sigma2, int nmax, BlockLanes& b) {
  b.qmin = 0;
  b.qmax = nmax;
  b.affine = true;
  Vec8 search_w[kBlock];
  Vec8 levels[kBlock];
  Vec8 scale;
  Vec8 neg_min;
  if (load_blocks(x, importance, lanes, sigma2, b, search_w)) {
    search_affine8(kBlock, nmax, b.x, search_w, -0.9f, 0.05f, 36, false, levels,
                   &scale, &neg_min);
    try_candidate(b, scale, -neg_min);
  }
  // llama.cpp's reference: the block's range split into nmax steps.
  Vec8 min = b.x[0];
  Vec8 max = b.x[0];
  for (int i = 1; i < kBlock; ++i) {
    min = min8(min, b.x[i]);
    max = max8(max, b.x[i]);
  }
  try_candidate(b, (max - min) / static_cast<float>(nmax), min);
  search_affine8(kBlock, nmax, b.x, b.w, -0.9f, 0.05f, 36, false, levels,
                 &scale, &neg_min);
  try_candidate(b, scale, -neg_min);
  refine(b);
}

// Runs `fit` over the row eight blocks at a time and `pack` on every block:
// pack(lane_d, lane_m, levels_of_block, block_index).
template <typename Fit, typename Pack>
void quantize_blocks(const float* x, int64_t n, const float* importance,
                     Fit&& fit, Pack&& pack) {
  const float sigma2 = importance ? row_sigma2(x, n) : 0.0f;
  const int64_t blocks = n / kBlock;
  BlockLanes b;
  Vec8 q[kBlock];
  for (int64_t first = 0; first < blocks; first += kLanes) {
    const int lanes =
        static_cast<int>(std::min<int64_t>(kLanes, blocks - first));
    const int64_t offset = first * kBlock;
    fit(x + offset, importance ? importance + offset : nullptr, lanes, sigma2,
        b);
    lane_levels(b, q);
    for (int j = 0; j < lanes; ++j) {
      int levels[kBlock];
      for (int i = 0; i < kBlock; ++i) levels[i] = static_cast<int>(q[i][j]);
      pack(b.d[j], b.m[j], levels, first + j);
    }
  }
}

uint32_t pack_nibbles(const int* q, int offset, uint8_t* qs) {
  uint32_t high_bits = 0;
  for (int j = 0; j < 16; ++j) {
    const int q0 = q[j] + offset;
    const int q1 = q[j + 16] + offset;
    qs[j] = static_cast<uint8_t>((q0 & 0x0f) | ((q1 & 0x0f) << 4));
    high_bits |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
    high_bits |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + 16);
  }
  return high_bits;
}

template <typename Block>
void store_block(const Block& block, int64_t index, uint8_t* out) {
  std::memcpy(out + index * static_cast<int64_t>(sizeof block), &block,
              sizeof block);
}

}  // namespace

void quantize_row_q4_0(const float* x, int64_t n, const float* importance,
                       uint8_t* out) {
  auto fit = [](const float* xb, const float* ib, int lanes, float sigma2,
                BlockLanes& b) { fit_symmetric(xb, ib, lanes, sigma2, 8, b); };
  quantize_blocks(x, n, importance, fit,
                  [&](float d, float, const int* q, int64_t index) {
                    BlockQ4_0 block{};
                    block.d = float_to_f16(d);
                    pack_nibbles(q, 8, block.qs);
                    store_block(block, index, out);
                  });
}

void quantize_row_q5_0(const float* x, int64_t n, const float* importance,
                       uint8_t* out) {
  auto fit = [](const float* xb, const float* ib, int lanes, float sigma2,
                BlockLanes& b) { fit_symmetric(xb, ib, lanes, sigma2, 16, b); };
  quantize_blocks(x, n, importance, fit,
                  [&](float d, float, const int* q, int64_t index) {
                    BlockQ5_0 block{};
                    block.d = float_to_f16(d);
                    const uint32_t high_bits = pack_nibbles(q, 16, block.qs);
                    std::memcpy(block.qh, &high_bits, sizeof high_bits);
                    store_block(block, index, out);
                  });
}

void quantize_row_q4_1(const float* x, int64_t n, const float* importance,
                       uint8_t* out) {
  auto fit = [](const float* xb, const float* ib, int lanes, float sigma2,
                BlockLanes& b) { fit_affine(xb, ib, lanes, sigma2, 15, b); };
  quantize_blocks(x, n, importance, fit,
                  [&](float d, float m, const int* q, int64_t index) {
                    BlockQ4_1 block{};
                    block.d = float_to_f16(d);
                    block.m = float_to_f16(m);
                    pack_nibbles(q, 0, block.qs);
                    store_block(block, index, out);
                  });
}

void quantize_row_q5_1(const float* x, int64_t n, const float* importance,
                       uint8_t* out) {
  auto fit = [](const float* xb, const float* ib, int lanes, float sigma2,
                BlockLanes& b) { fit_affine(xb, ib, lanes, sigma2, 31, b); };
  quantize_blocks(x, n, importance, fit,
                  [&](float d, float m, const int* q, int64_t index) {
                    BlockQ5_1 block{};
                    block.d = float_to_f16(d);
                    block.m = float_to_f16(m);
                    const uint32_t high_bits = pack_nibbles(q, 0, block.qs);
                    std::memcpy(block.qh, &high_bits, sizeof high_bits);
                    store_block(block, index, out);
                  });
}

void quantize_row_q8_0(const float* x, int64_t n, const float* importance,
                       uint8_t* out) {
  // Levels stay in [-127, 127] as in llama.cpp, whose dot-product kernels
  // assume symmetric int8 values.
  auto fit = [](const float* xb, const float* ib, int lanes, float sigma2,
                BlockLanes& b) {
    b.qmin = -127;
    b.qmax = 127;
    b.affine = false;
    Vec8 search_w[kBlock];
    load_blocks(xb, ib, lanes, sigma2, b, search_w);
    Vec8 amax = splat8(0.0f);
    for (int i = 0; i < kBlock; ++i) amax = max8(amax, abs8(b.x[i]));
    try_candidate(b, amax / 127.0f, splat8(0.0f));
    refine(b);
  };
  quantize_blocks(x, n, importance, fit,
                  [&](float d, float, const int* q, int64_t index) {
                    BlockQ8_0 block{};
                    block.d = float_to_f16(d);
                    for (int i = 0; i < kBlock; ++i) {
                      block.qs[i] = static_cast<int8_t>(q[i]);
                    }
                    store_block(block, index, out);
                  });
}

}  // namespace optiq::ggml_internal
