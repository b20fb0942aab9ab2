// IEEE binary16 (F16) and bfloat16 (BF16) conversions, bit-exact with
// round-to-nearest-even on the way down, as PyTorch, MLX and ggml do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace optiq {

inline float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline uint32_t float_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

inline float bf16_to_float(uint16_t h) { return bits_to_float(uint32_t{h} << 16); }

inline uint16_t float_to_bf16(float f) {
  uint32_t bits = float_to_bits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep it quiet and NaN
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  }
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float f16_to_float_slow(uint16_t h);
uint16_t float_to_f16(float f);

// Table of all 65536 F16 values as float, built on first use.
const float* f16_table();

inline float f16_to_float(uint16_t h) { return f16_table()[h]; }

void f16_to_float_n(const uint16_t* src, float* dst, size_t n);
void bf16_to_float_n(const uint16_t* src, float* dst, size_t n);

}  // namespace optiq
