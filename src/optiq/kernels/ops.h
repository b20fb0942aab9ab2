// Element-wise and row-wise transformer operations on row-major float data.
#pragma once

#include <cstdint>

namespace optiq {

// out[t] = x[t] / sqrt(mean(x[t]²) + eps) * weight, for n rows of `dim`.
// out may alias x.
void rms_norm(const float* x, const float* weight, int64_t n, int64_t dim, double eps, float* out);

// gate[i] = silu(gate[i]) * up[i] for `count` elements.
void silu_multiply(float* gate, const float* up, int64_t count);

// x[t] += bias for n rows of `dim`.
void add_bias(float* x, const float* bias, int64_t n, int64_t dim);

// In-place softmax of `count` values.
void softmax(float* values, int64_t count);

}  // namespace optiq
