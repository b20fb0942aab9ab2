// Helpers shared by the ggml quantization tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "optiq/core/half.h"
#include "optiq/quant/ggml_quant.h"

namespace optiq::ggml_test {

// Deterministic standard normal samples: splitmix64 feeding Box-Muller in
// double precision. The llama.cpp goldens in quant_ggml_quality_test.cc
// were computed on exactly these inputs.
inline std::vector<float> gaussian(uint64_t seed, int n) {
  auto next = [&seed]() {
    seed += 0x9e3779b97f4a7c15ull;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  auto uniform = [&next]() {
    return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53;
  };
  std::vector<float> v(n);
  for (int i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double t = 6.283185307179586 * uniform();
    v[i] = static_cast<float>(r * std::cos(t));
    if (i + 1 < n) v[i + 1] = static_cast<float>(r * std::sin(t));
  }
  return v;
}

// Importance values exp(2 g), g standard normal: a spread of about e^4
// between typical large and small columns, as real activations show.
inline std::vector<float> skewed_importance(uint64_t seed, int n) {
  std::vector<float> g = gaussian(seed, n);
  for (float& v : g) v = static_cast<float>(std::exp(2.0 * v));
  return g;
}

// Quantizes and dequantizes one row.
inline std::vector<float> round_trip(GgmlType type, const std::vector<float>& x,
                                     const float* importance = nullptr) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> bytes(ggml_row_bytes(type, n));
  ggml_quantize_row(type, x.data(), bytes.data(), n, importance);
  std::vector<float> y(x.size());
  ggml_dequantize_row(type, bytes.data(), y.data(), n);
  return y;
}

// sqrt(sum w (x - y)^2 / sum w x^2), with w = 1 when `w` is null.
inline double relative_rmse(const std::vector<float>& x,
                            const std::vector<float>& y,
                            const float* w = nullptr) {
  double error = 0;
  double energy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double weight = w ? w[i] : 1.0;
    const double diff = static_cast<double>(x[i]) - y[i];
    error += weight * diff * diff;
    energy += weight * static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(error / energy);
}

inline void put_u16(std::vector<uint8_t>& bytes, size_t offset,
                    uint16_t value) {
  bytes[offset] = static_cast<uint8_t>(value & 0xff);
  bytes[offset + 1] = static_cast<uint8_t>(value >> 8);
}

// Stores an F16-representable value as little-endian F16 bits.
inline void put_f16(std::vector<uint8_t>& bytes, size_t offset, float value) {
  put_u16(bytes, offset, float_to_f16(value));
}

inline std::vector<uint8_t> from_hex(const char* hex) {
  std::vector<uint8_t> bytes;
  for (size_t i = 0; hex[i] != '\0' && hex[i + 1] != '\0'; i += 2) {
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    bytes.push_back(
        static_cast<uint8_t>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return bytes;
}

}  // namespace optiq::ggml_test
