// Byte layouts of ggml's quantized blocks and the per-type row codecs that
// ggml_quant.cc dispatches to. Internal to optiq_quant_ggml.
//
// The structs mirror ggml-common.h (ggml v0.21.0) field by field; fields are
// little-endian and have no padding (checked by static_assert). Codecs copy
// blocks through these structs with memcpy because rows in a buffer need not
// be aligned.
#pragma once

#include <cstdint>

#include "optiq/core/half.h"

namespace optiq::ggml_internal {

constexpr int kLegacyBlock = 32;  // QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0
constexpr int kSuperBlock = 256;  // QK_K

// Q4_0: x = d * (q - 8); qs[j] contains q[j] in the low nibble and q[j + 16]
// in the high nibble.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_0) == 18);

// Q4_1: x = d * q + m, nibbles packed as in Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_1) == 20);

// Q5_0: x = d * (q - 16). Low nibbles as in Q4_0; bit j of the
// little-endian word qh is bit 4 of q[j].
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_0) == 22);

// Q5_1: x = d * q + m, five-bit q packed as in Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ5_1) == 24);

// Q8_0: x = d * q, q an int8.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ8_0) == 34);

// Q2_K: 16 sub-blocks of 16. scales[j] contains sub-block j's 4-bit scale (low
// nibble) and 4-bit min (high nibble); x = d*sc*q - dmin*m with q in 0..3.
// Element e of each 128-element half h sits in qs[32*h + e % 32] at bit
// 2 * (e / 32).
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(BlockQ2_K) == 84);

// Q3_K: 16 sub-blocks of 16 with signed 6-bit scales sc = s - 32, where the
// low 4 bits of s_j are nibble (j / 8) of scales[j % 8] and its high 2 bits
// are bits 2*(j/4) of scales[8 + j % 4]. q = low2 + 4*high - 4 in -4..3:
// low2 is packed as in Q2_K, high is bit (e / 32) of hmask[e % 32].
// x = d * sc * q.
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110);

// Q4_K: 8 sub-blocks of 32 with 6-bit scale sc and min m packed in 12 bytes
// (see pack_scale_min_k4); x = d*sc*q - dmin*m with q in 0..15. Elements
// 64*g + e (e < 32) are the low nibbles of qs[32*g + e], elements
// 64*g + 32 + e the high nibbles.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ4_K) == 144);

// Q5_K: Q4_K plus a fifth bit per element: element 64*g + e has it at bit
// 2g of qh[e], element 64*g + 32 + e at bit 2g + 1 of qh[e].
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ5_K) == 176);

// Q6_K: 16 sub-blocks of 16 with int8 scales; x = d * sc * (q - 32), q in
// 0..63. In each 128-element half h, element 32*k + e (k < 4, e < 32) has
// its low nibble in ql[64*h + 32*(k % 2) + e] (low nibble for k < 2, high
// for k >= 2) and its top two bits at bit 2k of qh[32*h + e].
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// Writes the 6-bit scale and min of Q4_K/Q5_K sub-block j (0..7) into the
// 12-byte scales field: j < 4 use the low 6 bits of bytes j and j + 4; j >= 4
// put their low 4 bits in byte j + 4 and their top 2 bits in bits 6..7 of
// bytes j - 4 and j. `scales` must start zeroed.
inline void pack_scale_min_k4(int j, int scale, int min, uint8_t* scales) {
  if (j < 4) {
    scales[j] = static_cast<uint8_t>(scales[j] | scale);
    scales[j + 4] = static_cast<uint8_t>(scales[j + 4] | min);
  } else {
    scales[j + 4] = static_cast<uint8_t>((scale & 0xf) | ((min & 0xf) << 4));
    scales[j - 4] = static_cast<uint8_t>(scales[j - 4] | ((scale >> 4) << 6));
    scales[j] = static_cast<uint8_t>(scales[j] | ((min >> 4) << 6));
  }
}

// Reads what pack_scale_min_k4 wrote (ggml's get_scale_min_k4).
inline void unpack_scale_min_k4(int j, const uint8_t* scales, int* scale,
                                int* min) {
  if (j < 4) {
    *scale = scales[j] & 63;
    *min = scales[j + 4] & 63;
  } else {
    *scale = (scales[j + 4] & 0xf) | ((scales[j - 4] >> 6) << 4);
    *min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}

// Rounds to the nearest F16 value (ties to even) and back.
inline float round_to_f16(float x) { return f16_to_float(float_to_f16(x)); }

// Row codecs. `n` is a multiple of the type's block size; inputs are
// validated by the caller. `importance` is null or contains n weights.
void quantize_row_q4_0(const float* x, int64_t n, const float* importance,
                       uint8_t* out);
void quantize_row_q4_1(const float* x, int64_t n, const float* importance,
                       uint8_t* out);
void quantize_row_q5_0(const float* x, int64_t n, const float* importance,
                       uint8_t* out);
void quantize_row_q5_1(const float* x, int64_t n, const float* importance,
                       uint8_t* out);
void quantize_row_q8_0(const float* x, int64_t n, const float* importance,
                       uint8_t* out);
void quantize_row_q2_k(const float* x, int64_t n, const float* importance,
                       uint8_t* out);
void quantize_row_q3_k(const float* x, int64_t n, const float* importance,
                       uint8_t* out);
void quantize_row_q4_k(const float* x, int64_t n, const float* importance,
                       uint8_t* out);
void quantize_row_q5_k(const float* x, int64_t n, const float* importance,
                       uint8_t* out);
void quantize_row_q6_k(const float* x, int64_t n, const float* importance,
                       uint8_t* out);

void dequantize_row_q4_0(const uint8_t* in, int64_t n, float* out);
void dequantize_row_q4_1(const uint8_t* in, int64_t n, float* out);
void dequantize_row_q5_0(const uint8_t* in, int64_t n, float* out);
void dequantize_row_q5_1(const uint8_t* in, int64_t n, float* out);
void dequantize_row_q8_0(const uint8_t* in, int64_t n, float* out);
void dequantize_row_q2_k(const uint8_t* in, int64_t n, float* out);
void dequantize_row_q3_k(const uint8_t* in, int64_t n, float* out);
void dequantize_row_q4_k(const uint8_t* in, int64_t n, float* out);
void dequantize_row_q5_k(const uint8_t* in, int64_t n, float* out);
void dequantize_row_q6_k(const uint8_t* in, int64_t n, float* out);

}  // namespace optiq::ggml_internal
