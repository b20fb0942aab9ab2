// Row and matrix entry points: input checks, dispatch to the per-type
// codecs, and the float types F32, F16 and BF16.
#include "optiq/quant/ggml_quant.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "optiq/core/error.h"
#include "optiq/core/half.h"
#include "optiq/core/parallel.h"
#include "optiq/quant/ggml_blocks.h"

namespace optiq {
namespace {

// Rough operations per element of a block quantizer, for parallel_for's
// decision whether threads pay off (k-quants measure 20-40 ns per element).
constexpr int64_t kQuantizeWorkPerElement = 100;

using QuantizeFn = void (*)(const float*, int64_t, const float*, uint8_t*);
using DequantizeFn = void (*)(const uint8_t*, int64_t, float*);

void quantize_f32(const float* x, int64_t n, const float*, uint8_t* out) {
  std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
}

void quantize_f16(const float* x, int64_t n, const float*, uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = float_to_f16(x[i]);
    std::memcpy(out + 2 * i, &h, sizeof h);
  }
}

void quantize_bf16(const float* x, int64_t n, const float*, uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = float_to_bf16(x[i]);
    std::memcpy(out + 2 * i, &h, sizeof h);
  }
}

void dequantize_f32(const uint8_t* in, int64_t n, float* out) {
  std::memcpy(out, in, static_cast<size_t>(n) * sizeof(float));
}

void dequantize_f16(const uint8_t* in, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, sizeof h);
    out[i] = f16_to_float(h);
  }
}

void dequantize_bf16(const uint8_t* in, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, in + 2 * i, sizeof h);
    out[i] = bf16_to_float(h);
  }
}

struct Codec {
  QuantizeFn quantize;
  DequantizeFn dequantize;
};

Codec codec_of(GgmlType type) {
  namespace gi = ggml_internal;
  switch (type) {
    case GgmlType::F32:
      return {quantize_f32, dequantize_f32};
    case GgmlType::F16:
      return {quantize_f16, dequantize_f16};
    case GgmlType::BF16:
      return {quantize_bf16, dequantize_bf16};
    case GgmlType::Q4_0:
      return {gi::quantize_row_q4_0, gi::dequantize_row_q4_0};
    case GgmlType::Q4_1:
      return {gi::quantize_row_q4_1, gi::dequantize_row_q4_1};
    case GgmlType::Q5_0:
      return {gi::quantize_row_q5_0, gi::dequantize_row_q5_0};
    case GgmlType::Q5_1:
      return {gi::quantize_row_q5_1, gi::dequantize_row_q5_1};
    case GgmlType::Q8_0:
      return {gi::quantize_row_q8_0, gi::dequantize_row_q8_0};
    case GgmlType::Q2_K:
      return {gi::quantize_row_q2_k, gi::dequantize_row_q2_k};
    case GgmlType::Q3_K:
      return {gi::quantize_row_q3_k, gi::dequantize_row_q3_k};
    case GgmlType::Q4_K:
      return {gi::quantize_row_q4_k, gi::dequantize_row_q4_k};
    case GgmlType::Q5_K:
      return {gi::quantize_row_q5_k, gi::dequantize_row_q5_k};
    case GgmlType::Q6_K:
      return {gi::quantize_row_q6_k, gi::dequantize_row_q6_k};
  }
  fail("unsupported ggml type id {}", static_cast<uint32_t>(type));
}

// Largest magnitude a type can store: F32 any finite value, BF16 values
// that do not round to inf, F16 and the block types (whose scales are F16)
// up to the largest F16.
float max_magnitude(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
      return FLT_MAX;
    case GgmlType::BF16:
      return bits_to_float(0x7f7f7fffu);
    default:
      return 65504.0f;
  }
}

// Index of the first element of x that is NaN, inf or above `limit` in
// magnitude, or -1.
int64_t first_invalid(const float* x, int64_t n, float limit) {
  for (int64_t i = 0; i < n; ++i) {
    if (!(std::fabs(x[i]) <= limit)) return i;
  }
  return -1;
}

[[noreturn]] void fail_invalid_value(GgmlType type, float value,
                                     const std::string& where) {
  if (std::isnan(value) || std::isinf(value)) {
    fail("cannot quantize to {}: {} is {}; weights must be finite",
         ggml_type_name(type), where, value);
  }
  fail("cannot quantize to {}: {} is {}, beyond the type's range of +-{}",
       ggml_type_name(type), where, value, max_magnitude(type));
}

// Checks importance weights: finite and non-negative.
void check_importance(GgmlType type, const float* importance, int64_t n) {
  if (importance == nullptr) return;
  for (int64_t i = 0; i < n; ++i) {
    if (!(importance[i] >= 0.0f && std::isfinite(importance[i]))) {
      fail(
          "cannot quantize to {}: importance[{}] is {}; importance values "
          "must be finite and non-negative",
          ggml_type_name(type), i, importance[i]);
    }
  }
}

// Importance divided by its maximum. The quantizers' argmin does not change
// under a common factor, and values in [0, 1] keep their weighted sums of
// squares far from float overflow. Empty when importance is null.
std::vector<float> normalized_importance(const float* importance, int64_t n) {
  if (importance == nullptr) return {};
  float max = 0.0f;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, importance[i]);
  std::vector<float> normalized(importance, importance + n);
  if (max > 0.0f) {
    for (float& v : normalized) v /= max;
  }
  return normalized;
}

}  // namespace

void ggml_quantize_row(GgmlType type, const float* x, void* out, int64_t n,
                       const float* importance) {
  const Codec codec = codec_of(type);
  ggml_row_bytes(type, n);  // throws for a bad length
  const int64_t bad = first_invalid(x, n, max_magnitude(type));
  if (bad >= 0) {
    fail_invalid_value(type, x[bad], fmt::format("element {}", bad));
  }
  check_importance(type, importance, n);
  const std::vector<float> weights = normalized_importance(importance, n);
  codec.quantize(x, n, importance ? weights.data() : nullptr,
                 static_cast<uint8_t*>(out));
}

void ggml_dequantize_row(GgmlType type, const void* in, float* out, int64_t n) {
  const Codec codec = codec_of(type);
  ggml_row_bytes(type, n);
  codec.dequantize(static_cast<const uint8_t*>(in), n, out);
}

namespace {

// Throws for any invalid input of a [rows, cols] matrix before work starts,
// because exceptions cannot leave a parallel region.
void check_matrix(GgmlType type, const float* w, int64_t rows, int64_t cols,
                  const float* importance) {
  if (rows < 0) fail("invalid row count {} for {}", rows, ggml_type_name(type));
  ggml_row_bytes(type, cols);
  std::vector<int64_t> bad(static_cast<size_t>(rows));
  const float limit = max_magnitude(type);
  parallel_for(
      rows,
      [&](int64_t r) { bad[r] = first_invalid(w + r * cols, cols, limit); },
      cols);
  for (int64_t r = 0; r < rows; ++r) {
    if (bad[r] >= 0) {
      fail_invalid_value(type, w[r * cols + bad[r]],
                         fmt::format("element [{}, {}]", r, bad[r]));
    }
  }
  check_importance(type, importance, cols);
}

}  // namespace

void ggml_quantize_matrix(GgmlType type, const float* w, int64_t rows,
                          int64_t cols, const float* importance,
                          std::vector<uint8_t>& out) {
  const Codec codec = codec_of(type);
  check_matrix(type, w, rows, cols, importance);
  const size_t row_bytes = ggml_row_bytes(type, cols);
  const std::vector<float> weights = normalized_importance(importance, cols);
  const float* weights_or_null = importance ? weights.data() : nullptr;
  out.resize(row_bytes * static_cast<size_t>(rows));
  uint8_t* data = out.data();
  parallel_for(
      rows,
      [&](int64_t r) {
        codec.quantize(w + r * cols, cols, weights_or_null,
                       data + r * row_bytes);
      },
      cols * kQuantizeWorkPerElement);
}

void ggml_fake_quantize_matrix(GgmlType type, const float* w, int64_t rows,
                               int64_t cols, const float* importance,
                               float* out) {
  const Codec codec = codec_of(type);
  check_matrix(type, w, rows, cols, importance);
  const size_t row_bytes = ggml_row_bytes(type, cols);
  const std::vector<float> weights = normalized_importance(importance, cols);
  const float* weights_or_null = importance ? weights.data() : nullptr;
  parallel_for(
      rows,
      [&](int64_t r) {
        thread_local std::vector<uint8_t> scratch;
        scratch.resize(row_bytes);
        codec.quantize(w + r * cols, cols, weights_or_null, scratch.data());
        codec.dequantize(scratch.data(), cols, out + r * cols);
      },
      cols * kQuantizeWorkPerElement);
}

}  // namespace optiq
