// A candidate storage format for one weight matrix: kept in a 16/32-bit
// float dtype, MLX-style group-wise affine, or a ggml block type.
//
// Names: "f16", "bf16", "f32"; "a<bits>g<group>" for affine (e.g. "a4g64":
// 4-bit codes, a scale and bias per 64 inputs); ggml types by their llama.cpp
// names ("Q4_K", "Q8_0").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "optiq/core/dtype.h"
#include "optiq/quant/affine.h"
#include "optiq/quant/ggml_quant.h"

namespace optiq {

struct QuantFormat {
  enum class Kind { kFloat, kAffine, kGgml };
  Kind kind = Kind::kFloat;
  DType float_dtype = DType::F16;  // kFloat
  AffineFormat affine;             // kAffine
  GgmlType ggml = GgmlType::F16;   // kGgml

  static QuantFormat float_format(DType dtype);
  static QuantFormat affine_format(int bits, int group_size);
  static QuantFormat ggml_format(GgmlType type);
  // Parses a name as above; throws optiq::Error listing the accepted forms.
  static QuantFormat parse(std::string_view name);

  std::string name() const;
  bool is_float() const { return kind == Kind::kFloat; }

  // Whether a matrix with `cols` inputs can be stored this way (the group or
  // block size divides cols).
  bool applies_to(int64_t cols) const;

  // Exact bytes of a [rows, cols] matrix: packed codes plus scales and
  // biases (affine scales and biases are stored in `scale_dtype`).
  uint64_t bytes(int64_t rows, int64_t cols, DType scale_dtype) const;

  friend bool operator==(const QuantFormat& a, const QuantFormat& b) { return a.name() == b.name(); }
};

// out = dequantize(quantize(w)) for a [rows, cols] matrix, exactly as the
// exported file will decode. importance: optional per-input-channel weights
// (length cols) for error-weighted rounding.
void fake_quantize(const QuantFormat& format, const float* w, int64_t rows, int64_t cols,
                   DType scale_dtype, const float* importance, float* out);

}  // namespace optiq
