// Dequantizers for ggml's block types, bit-exact with ggml v0.21.0's
// dequantize_row_* (ggml/src/ggml-quants.c): the same float operations in
// the same order, each product and sum rounded separately.
//
// ggml-base is compiled without FMA, so a fused d*q - m would round once
// where ggml rounds twice. GCC contracts a*b+c by default even in ISO C++
// mode, so contraction is switched off for this file.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <cstring>

#include "optiq/quant/ggml_blocks.h"

namespace optiq::ggml_internal {
namespace {

template <typename Block>
Block load_block(const uint8_t* in, int64_t index) {
  Block block;
  std::memcpy(&block, in + index * static_cast<int64_t>(sizeof(Block)),
              sizeof(Block));
  return block;
}

uint32_t load_u32(const uint8_t* bytes) {
  // GGUF data is little-endian; so are the hosts optiq supports.
  uint32_t value;
  std::memcpy(&value, bytes, sizeof value);
  return value;
}

}  // namespace

void dequantize_row_q4_0(const uint8_t* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
    const auto block = load_block<BlockQ4_0>(in, b);
    const float d = f16_to_float(block.d);
    float* y = out + b * kLegacyBlock;
    for (int j = 0; j < 16; ++j) {
      const int q0 = (block.qs[j] & 0x0f) - 8;
      const int q1 = (block.qs[j] >> 4) - 8;
      y[j] = static_cast<float>(q0) * d;
      y[j + 16] = static_cast<float>(q1) * d;
    }
  }
}

void dequantize_row_q4_1(const uint8_t* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
    const auto block = load_block<BlockQ4_1>(in, b);
    const float d = f16_to_float(block.d);
    const float m = f16_to_float(block.m);
    float* y = out + b * kLegacyBlock;
    for (int j = 0; j < 16; ++j) {
      const int q0 = block.qs[j] & 0x0f;
      const int q1 = block.qs[j] >> 4;
      y[j] = static_cast<float>(q0) * d + m;
      y[j + 16] = static_cast<float>(q1) * d + m;
    }
  }
}

void dequantize_row_q5_0(const uint8_t* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
    const auto block = load_block<BlockQ5_0>(in, b);
    const float d = f16_to_float(block.d);
    const uint32_t qh = load_u32(block.qh);
    float* y = out + b * kLegacyBlock;
    for (int j = 0; j < 16; ++j) {
      const int high0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int high1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      const int q0 = ((block.qs[j] & 0x0f) | high0) - 16;
      const int q1 = ((block.qs[j] >> 4) | high1) - 16;
      y[j] = static_cast<float>(q0) * d;
      y[j + 16] = static_cast<float>(q1) * d;
    }
  }
}

void dequantize_row_q5_1(const uint8_t* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
    const auto block = load_block<BlockQ5_1>(in, b);
    const float d = f16_to_float(block.d);
    const float m = f16_to_float(block.m);
    const uint32_t qh = load_u32(block.qh);
    float* y = out + b * kLegacyBlock;
    for (int j = 0; j < 16; ++j) {
      const int high0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int high1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      const int q0 = (block.qs[j] & 0x0f) | high0;
      const int q1 = (block.qs[j] >> 4) | high1;
      y[j] = static_cast<float>(q0) * d + m;
      y[j + 16] = static_cast<float>(q1) * d + m;
    }
  }
}

void dequantize_row_q8_0(const uint8_t* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
    const auto block = load_block<BlockQ8_0>(in, b);
    const float d = f16_to_float(block.d);
    float* y = out + b * kLegacyBlock;
    for (int j = 0; j < kLegacyBlock; ++j) {
      y[j] = static_cast<float>(block.qs[j]) * d;
    }
  }
}

void dequantize_row_q2_k(const uint8_t* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto block = load_block<BlockQ2_K>(in, b);
    const float d = f16_to_float(block.d);
    const float dmin = f16_to_float(block.dmin);
    float* y = out + b * kSuperBlock;
    for (int sub = 0; sub < 16; ++sub) {
      const int half = sub / 8;
      const int shift = 2 * ((sub % 8) / 2);
      const int byte0 = 32 * half + 16 * (sub % 2);
      const uint8_t packed = block.scales[sub];
      const float scale = d * static_cast<float>(packed & 0x0f);
      const float min = dmin * static_cast<float>(packed >> 4);
      for (int l = 0; l < 16; ++l) {
        const int q = (block.qs[byte0 + l] >> shift) & 3;
        y[16 * sub + l] = scale * static_cast<float>(q) - min;
      }
    }
  }
}

void dequantize_row_q3_k(const uint8_t* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto block = load_block<BlockQ3_K>(in, b);
    const float d = f16_to_float(block.d);
    float* y = out + b * kSuperBlock;
    for (int sub = 0; sub < 16; ++sub) {
      const int low = (block.scales[sub % 8] >> (4 * (sub / 8))) & 0x0f;
      const int high = (block.scales[8 + sub % 4] >> (2 * (sub / 4))) & 3;
      const float scale = d * static_cast<float>((low | (high << 4)) - 32);
      const int half = sub / 8;
      const int shift = 2 * ((sub % 8) / 2);
      const int byte0 = 32 * half + 16 * (sub % 2);
      const int hbit = sub / 2;  // element 16*sub + l sits in hmask bit (e/32)
      for (int l = 0; l < 16; ++l) {
        const int low2 = (block.qs[byte0 + l] >> shift) & 3;
        const int e = 16 * sub + l;
        const bool high_set = (block.hmask[e % 32] >> hbit) & 1;
        const int q = low2 - (high_set ? 0 : 4);
        y[e] = scale * static_cast<float>(q);
      }
    }
  }
}

namespace {

// Shared by Q4_K and Q5_K: x = (d*sc) * q - (dmin*m) over 8 sub-blocks.
void dequantize_k4_style(uint16_t d_bits, uint16_t dmin_bits,
                         const uint8_t* scales, const int* levels, float* y) {
  const float d = f16_to_float(d_bits);
  const float dmin = f16_to_float(dmin_bits);
  for (int sub = 0; sub < 8; ++sub) {
    int sc = 0;
    int m = 0;
    unpack_scale_min_k4(sub, scales, &sc, &m);
    const float scale = d * static_cast<float>(sc);
    const float min = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      y[32 * sub + l] = scale * static_cast<float>(levels[32 * sub + l]) - min;
    }
  }
}

}  // namespace

void dequantize_row_q4_k(const uint8_t* in, int64_t n, float* out) {
  int levels[kSuperBlock];
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto block = load_block<BlockQ4_K>(in, b);
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        levels[64 * g + l] = block.qs[32 * g + l] & 0x0f;
        levels[64 * g + 32 + l] = block.qs[32 * g + l] >> 4;
      }
    }
    dequantize_k4_style(block.d, block.dmin, block.scales, levels,
                        out + b * kSuperBlock);
  }
}

void dequantize_row_q5_k(const uint8_t* in, int64_t n, float* out) {
  int levels[kSuperBlock];
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto block = load_block<BlockQ5_K>(in, b);
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        const int high0 = ((block.qh[l] >> (2 * g)) & 1) << 4;
        const int high1 = ((block.qh[l] >> (2 * g + 1)) & 1) << 4;
        levels[64 * g + l] = (block.qs[32 * g + l] & 0x0f) + high0;
        levels[64 * g + 32 + l] = (block.qs[32 * g + l] >> 4) + high1;
      }
    }
    dequantize_k4_style(block.d, block.dmin, block.scales, levels,
                        out + b * kSuperBlock);
  }
}

void dequantize_row_q6_k(const uint8_t* in, int64_t n, float* out) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    const auto block = load_block<BlockQ6_K>(in, b);
    const float d = f16_to_float(block.d);
    float* y = out + b * kSuperBlock;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = block.ql + 64 * half;
      const uint8_t* qh = block.qh + 32 * half;
      for (int k = 0; k < 4; ++k) {
        for (int e = 0; e < 32; ++e) {
          const int low = (ql[32 * (k % 2) + e] >> (4 * (k / 2))) & 0x0f;
          const int high = (qh[e] >> (2 * k)) & 3;
          const int q = (low | (high << 4)) - 32;
          const int element = 128 * half + 32 * k + e;
          // ggml evaluates d * sc * q left to right: (d * sc) * q.
          const float scale =
              d * static_cast<float>(block.scales[element / 16]);
          y[element] = scale * static_cast<float>(q);
        }
      }
    }
  }
}

}  // namespace optiq::ggml_internal
