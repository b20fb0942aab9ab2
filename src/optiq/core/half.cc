#include "optiq/core/half.h"

#include <vector>

namespace optiq {

float f16_to_float_slow(uint16_t h) {
  uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) {  // inf or NaN
    return bits_to_float(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    if (mantissa == 0) return bits_to_float(sign);
    // Subnormal: value = mantissa * 2^-24, exact in float.
    float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t float_to_f16(float f) {
  uint32_t bits = float_to_bits(f);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) return sign | 0x7e00u;  // NaN
  if (abs_bits >= 0x477ff000u) return sign | 0x7c00u;  // rounds to inf
  if (abs_bits < 0x38800000u) {
    // Result is subnormal or zero: scale to units of 2^-24 and round to
    // nearest even through the float adder.
    float magnitude = bits_to_float(abs_bits);
    float scaled = magnitude * 16777216.0f;  // 2^24
    // Adding and subtracting 2^23 rounds to an integer with ties to even.
    float rounded = (scaled + 8388608.0f) - 8388608.0f;
    return sign | static_cast<uint16_t>(rounded);
  }
  // Normal: rebias the exponent and round the 13 dropped mantissa bits.
  uint32_t rebiased = abs_bits - (112u << 23);
  uint32_t rounding = 0xfffu + ((rebiased >> 13) & 1u);
  return sign | static_cast<uint16_t>((rebiased + rounding) >> 13);
}

const float* f16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> values(65536);
    for (uint32_t i = 0; i < 65536; ++i) {
      values[i] = f16_to_float_slow(static_cast<uint16_t>(i));
    }
    return values;
  }();
  return table.data();
}

void f16_to_float_n(const uint16_t* src, float* dst, size_t n) {
  const float* table = f16_table();
  for (size_t i = 0; i < n; ++i) dst[i] = table[src[i]];
}

void bf16_to_float_n(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_float(src[i]);
}

}  // namespace optiq
