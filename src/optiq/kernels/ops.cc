#include "optiq/kernels/ops.h"

#include <algorithm>
#include <cmath>

#include "optiq/core/parallel.h"

namespace optiq {

void rms_norm(const float* x, const float* weight, int64_t n, int64_t dim, double eps, float* out) {
  parallel_for(n, [&](int64_t t) {
    const float* row = x + t * dim;
    float* result = out + t * dim;
    float sum = 0.0f;
    for (int64_t i = 0; i < dim; ++i) sum += row[i] * row[i];
    float scale = 1.0f / std::sqrt(sum / static_cast<float>(dim) + static_cast<float>(eps));
    for (int64_t i = 0; i < dim; ++i) result[i] = weight[i] * (row[i] * scale);
  }, dim);
}

void silu_multiply(float* gate, const float* up, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void add_bias(float* x, const float* bias, int64_t n, int64_t dim) {
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t i = 0; i < dim; ++i) x[t * dim + i] += bias[i];
  }
}

void softmax(float* values, int64_t count) {
  float max_value = *std::max_element(values, values + count);
  float sum = 0.0f;
  for (int64_t i = 0; i < count; ++i) {
    values[i] = std::exp(values[i] - max_value);
    sum += values[i];
  }
  float inverse = 1.0f / sum;
  for (int64_t i = 0; i < count; ++i) values[i] *= inverse;
}

}  // namespace optiq
