#include "optiq/kernels/rope.h"

#include <cmath>
#include <numbers>

#include "optiq/core/error.h"

namespace optiq {

std::vector<float> rope_inverse_frequencies(const ModelConfig& config) {
  const int64_t half = config.head_dim / 2;
  const float theta = static_cast<float>(config.rope_theta);
  std::vector<float> frequencies(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    float exponent = static_cast<float>(2 * i) / static_cast<float>(config.head_dim);
    frequencies[i] = 1.0f / std::pow(theta, exponent);
  }
  const RopeScaling& scaling = config.rope_scaling;
  if (scaling.type == RopeScaling::Type::kLinear) {
    for (float& f : frequencies) f = static_cast<float>(f / scaling.factor);
  } else if (scaling.type == RopeScaling::Type::kLlama3) {
    const double original = static_cast<double>(scaling.original_max_position);
    const double low_wavelength = original / scaling.low_freq_factor;
    const double high_wavelength = original / scaling.high_freq_factor;
    for (float& f : frequencies) {
      double wavelength = 2.0 * std::numbers::pi / f;
      if (wavelength < high_wavelength) continue;
      if (wavelength > low_wavelength) {
        f = static_cast<float>(f / scaling.factor);
        continue;
      }
      double smooth = (original / wavelength - scaling.low_freq_factor) /
                      (scaling.high_freq_factor - scaling.low_freq_factor);
      f = static_cast<float>((1.0 - smooth) * f / scaling.factor + smooth * f);
    }
  }
  return frequencies;
}

RopeTable::RopeTable(const ModelConfig& config)
    : half_(config.head_dim / 2),
      layout_(config.rope_layout),
      inverse_frequencies_(rope_inverse_frequencies(config)) {}

void RopeTable::reserve(int64_t positions) {
  if (positions <= positions_) return;
  int64_t target = std::max(positions, positions_ * 2);
  cos_.resize(static_cast<size_t>(target * half_));
  sin_.resize(static_cast<size_t>(target * half_));
  for (int64_t p = positions_; p < target; ++p) {
    for (int64_t i = 0; i < half_; ++i) {
      float angle = static_cast<float>(p) * inverse_frequencies_[i];
      cos_[p * half_ + i] = std::cos(angle);
      sin_[p * half_ + i] = std::sin(angle);
    }
  }
  positions_ = target;
}

void RopeTable::apply(float* x, int64_t n_heads, int64_t position) const {
  OPTIQ_ASSERT(position >= 0 && position < positions_);
  const float* c = cos_.data() + position * half_;
  const float* s = sin_.data() + position * half_;
  const int64_t head_dim = 2 * half_;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    for (int64_t i = 0; i < half_; ++i) {
      // Halves: pair (i, i + d/2). Interleaved: pair (2i, 2i + 1).
      float* a = layout_ == RopeLayout::kHalves ? head + i : head + 2 * i;
      float* b = layout_ == RopeLayout::kHalves ? head + i + half_ : head + 2 * i + 1;
      float x0 = *a;
      float x1 = *b;
      *a = x0 * c[i] - x1 * s[i];
      *b = x0 * s[i] + x1 * c[i];
    }
  }
}

}  // namespace optiq
