#include "optiq/quant/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "optiq/core/error.h"

namespace optiq {

QuantFormat QuantFormat::float_format(DType dtype) {
  QuantFormat format;
  format.kind = Kind::kFloat;
  format.float_dtype = dtype;
  return format;
}

QuantFormat QuantFormat::affine_format(int bits, int group_size) {
  QuantFormat format;
  format.kind = Kind::kAffine;
  format.affine = AffineFormat{bits, group_size};
  if (!is_valid_affine_format(format.affine)) {
    fail("invalid affine format: {} bits, group size {} (bits 2, 3, 4, 5, 6, 8; groups 32, 64, "
         "128)",
         bits, group_size);
  }
  return format;
}

QuantFormat QuantFormat::ggml_format(GgmlType type) {
  QuantFormat format;
  format.kind = Kind::kGgml;
  format.ggml = type;
  return format;
}

QuantFormat QuantFormat::parse(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "f16") return float_format(DType::F16);
  if (lower == "bf16") return float_format(DType::BF16);
  if (lower == "f32") return float_format(DType::F32);
  if (lower.size() >= 4 && lower[0] == 'a') {
    size_t g = lower.find('g');
    int bits = 0, group = 0;
    if (g != std::string::npos) {
      auto r1 = std::from_chars(lower.data() + 1, lower.data() + g, bits);
      auto r2 = std::from_chars(lower.data() + g + 1, lower.data() + lower.size(), group);
      if (r1.ec == std::errc() && r1.ptr == lower.data() + g && r2.ec == std::errc() &&
          r2.ptr == lower.data() + lower.size()) {
        return affine_format(bits, group);
      }
    }
  }
  if (std::optional<GgmlType> type = parse_ggml_type(name)) return ggml_format(*type);
  fail("invalid format '{}': expected f16, bf16, f32, a<bits>g<group> (e.g. a4g64) or a ggml "
       "type (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)",
       name);
}

std::string QuantFormat::name() const {
  switch (kind) {
    case Kind::kFloat:
      return float_dtype == DType::BF16 ? "bf16" : float_dtype == DType::F32 ? "f32" : "f16";
    case Kind::kAffine:
      return fmt::format("a{}g{}", affine.bits, affine.group_size);
    case Kind::kGgml:
      return std::string(ggml_type_name(ggml));
  }
  return "?";
}

bool QuantFormat::applies_to(int64_t cols) const {
  switch (kind) {
    case Kind::kFloat:
      return true;
    case Kind::kAffine:
      return cols % affine.group_size == 0 && (cols * affine.bits) % 32 == 0;
    case Kind::kGgml:
      return cols % ggml_block_size(ggml) == 0;
  }
  return false;
}

uint64_t QuantFormat::bytes(int64_t rows, int64_t cols, DType scale_dtype) const {
  switch (kind) {
    case Kind::kFloat:
      return static_cast<uint64_t>(rows * cols) * dtype_size(float_dtype);
    case Kind::kAffine:
      return affine_storage_bytes(rows, cols, affine, scale_dtype);
    case Kind::kGgml:
      return static_cast<uint64_t>(rows) * ggml_row_bytes(ggml, cols);
  }
  return 0;
}

void fake_quantize(const QuantFormat& format, const float* w, int64_t rows, int64_t cols,
                   DType scale_dtype, const float* importance, float* out) {
  switch (format.kind) {
    case QuantFormat::Kind::kFloat: {
      // Round through the storage dtype.
      size_t n = static_cast<size_t>(rows * cols);
      std::vector<uint8_t> stored(n * dtype_size(format.float_dtype));
      convert_from_float(format.float_dtype, w, stored.data(), n);
      convert_to_float(format.float_dtype, stored.data(), out, n);
      return;
    }
    case QuantFormat::Kind::kAffine: {
      AffineOptions options;
      options.search_clipping = true;
      options.importance = importance;
      fake_quantize_affine(w, rows, cols, format.affine, scale_dtype, options, out);
      return;
    }
    case QuantFormat::Kind::kGgml:
      ggml_fake_quantize_matrix(format.ggml, w, rows, cols, importance, out);
      return;
  }
}

}  // namespace optiq
