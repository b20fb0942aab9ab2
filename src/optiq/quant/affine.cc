#include "optiq/quant/affine.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "optiq/core/error.h"
#include "optiq/core/half.h"
#include "optiq/core/parallel.h"
#include "optiq/quant/affine_group.h"
#include "optiq/quant/affine_pack.h"

namespace optiq {

using affine_detail::GroupParams;
using affine_detail::GroupResult;
using affine_detail::kMaxGroupSize;

namespace {

// Reads element `index` of a little-endian float array of `dtype` that may
// be unaligned.
float load_scale_value(const void* data, int64_t index, DType dtype) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (dtype == DType::F32) {
    float value;
    std::memcpy(&value, bytes + index * 4, 4);
    return value;
  }
  uint16_t half;
  std::memcpy(&half, bytes + index * 2, 2);
  return dtype == DType::F16 ? f16_to_float(half) : bf16_to_float(half);
}

void store_scale_value(float value, DType dtype, uint8_t* data, int64_t index) {
  const size_t size = dtype_size(dtype);
  uint8_t bytes[4];
  convert_from_float(dtype, &value, bytes, 1);
  std::memcpy(data + index * static_cast<int64_t>(size), bytes, size);
}

// First failed group of a row (-1 when the row succeeded) and the cause.
struct RowStatus {
  int64_t group = -1;
  bool finite_input = true;
};

void check_importance(const float* importance, int64_t cols) {
  if (importance == nullptr) return;
  for (int64_t j = 0; j < cols; ++j) {
    if (!(importance[j] >= 0.0f) || !std::isfinite(importance[j])) {
      fail(
          "affine quantization: importance of input channel {} is {}; "
          "expected a finite value >= 0",
          j, importance[j]);
    }
  }
}

// Throws for the first failed row, so the message does not depend on the
// thread count.
void throw_first_failure(const std::vector<RowStatus>& status, int64_t rows,
                         int64_t cols, AffineFormat format, DType scale_dtype) {
  for (int64_t r = 0; r < rows; ++r) {
    if (status[r].group < 0) continue;
    if (!status[r].finite_input) {
      fail(
          "affine quantization of [{}, {}] weights ({} bits, group {}): row "
          "{}, group {} contains NaN or infinity",
          rows, cols, format.bits, format.group_size, r, status[r].group);
    }
    fail(
        "affine quantization of [{}, {}] weights ({} bits, group {}): row {}, "
        "group {} needs a scale or bias outside the {} range; use BF16 or "
        "F32 scales",
        rows, cols, format.bits, format.group_size, r, status[r].group,
        dtype_name(scale_dtype));
  }
}

// Quantizes every group of every row. For each group calls
// emit(row, group, params, codes, dequant), where `dequant` contains the
// dequantized values when `want_dequant` is set.
template <typename Emit>
void quantize_rows(const float* w, int64_t rows, int64_t cols,
                   AffineFormat format, DType scale_dtype,
                   const AffineOptions& options, bool want_dequant,
                   Emit&& emit) {
  check_affine_shape(rows, cols, format, scale_dtype);
  check_importance(options.importance, cols);
  const int group_size = format.group_size;
  const int64_t groups = cols / group_size;
  std::vector<RowStatus> status(static_cast<size_t>(rows));
  parallel_for(rows, [&](int64_t r) {
    uint8_t codes[kMaxGroupSize];
    float dequant[kMaxGroupSize];
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t offset = g * group_size;
      const float* importance =
          options.importance ? options.importance + offset : nullptr;
      const GroupResult result = affine_detail::quantize_group(
          w + r * cols + offset, importance, group_size, format.bits,
          scale_dtype, options.search_clipping, codes,
          want_dequant ? dequant : nullptr);
      if (!result.ok) {
        status[r] = {g, result.finite_input};
        return;
      }
      emit(r, g, result.params, codes, dequant);
    }
  });
  throw_first_failure(status, rows, cols, format, scale_dtype);
}

}  // namespace

bool is_valid_affine_format(AffineFormat format) {
  const bool bits_ok = format.bits >= 2 && format.bits <= 8 && format.bits != 7;
  const bool group_ok = format.group_size == 32 || format.group_size == 64 ||
                        format.group_size == 128;
  return bits_ok && group_ok;
}

bool is_valid_affine_scale_dtype(DType dtype) {
  return dtype == DType::F16 || dtype == DType::BF16 || dtype == DType::F32;
}

void check_affine_shape(int64_t rows, int64_t cols, AffineFormat format,
                        DType scale_dtype) {
  if (!is_valid_affine_format(format)) {
    fail(
        "affine format with {} bits and group size {} is not supported; "
        "bits must be 2, 3, 4, 5, 6 or 8 and group size 32, 64 or 128",
        format.bits, format.group_size);
  }
  if (!is_valid_affine_scale_dtype(scale_dtype)) {
    fail("affine scale dtype {} is not supported; expected F16, BF16 or F32",
         dtype_name(scale_dtype));
  }
  if (rows < 0 || cols <= 0 || cols % format.group_size != 0) {
    fail(
        "matrix of shape [{}, {}] cannot be quantized with {} bits and group "
        "size {}: the column count must be positive and divisible by the "
        "group size",
        rows, cols, format.bits, format.group_size);
  }
  // cols is a multiple of 32, so every row fills whole uint32 words.
}

uint64_t affine_storage_bytes(int64_t rows, int64_t cols, AffineFormat format,
                              DType scale_dtype) {
  check_affine_shape(rows, cols, format, scale_dtype);
  const uint64_t elements = static_cast<uint64_t>(rows) * cols;
  const uint64_t packed = elements * format.bits / 8;
  const uint64_t groups = elements / format.group_size;
  return packed + 2 * groups * dtype_size(scale_dtype);
}

AffineQuantized quantize_affine(const float* w, int64_t rows, int64_t cols,
                                AffineFormat format, DType scale_dtype,
                                const AffineOptions& options) {
  check_affine_shape(rows, cols, format, scale_dtype);
  AffineQuantized out;
  out.rows = rows;
  out.cols = cols;
  out.format = format;
  out.scale_dtype = scale_dtype;
  const int64_t words_per_row = cols * format.bits / 32;
  const int64_t words_per_group = format.group_size * format.bits / 32;
  const int64_t groups = cols / format.group_size;
  const size_t scale_bytes =
      static_cast<size_t>(rows * groups) * dtype_size(scale_dtype);
  out.packed.resize(static_cast<size_t>(rows * words_per_row));
  out.scales.resize(scale_bytes);
  out.biases.resize(scale_bytes);
  quantize_rows(w, rows, cols, format, scale_dtype, options,
                /*want_dequant=*/false,
                [&](int64_t r, int64_t g, GroupParams params,
                    const uint8_t* codes, const float*) {
                  pack_affine_codes(codes, format.group_size, format.bits,
                                    out.packed.data() + r * words_per_row +
                                        g * words_per_group);
                  store_scale_value(params.scale, scale_dtype,
                                    out.scales.data(), r * groups + g);
                  store_scale_value(params.bias, scale_dtype, out.biases.data(),
                                    r * groups + g);
                });
  return out;
}

void fake_quantize_affine(const float* w, int64_t rows, int64_t cols,
                          AffineFormat format, DType scale_dtype,
                          const AffineOptions& options, float* out) {
  quantize_rows(w, rows, cols, format, scale_dtype, options,
                /*want_dequant=*/true,
                [&](int64_t r, int64_t g, GroupParams, const uint8_t*,
                    const float* dequant) {
                  std::memcpy(out + r * cols + g * format.group_size, dequant,
                              sizeof(float) * format.group_size);
                });
}

void dequantize_affine_rows(const void* packed, const void* scales,
                            const void* biases, DType scale_dtype, int64_t cols,
                            AffineFormat format, int64_t row_begin,
                            int64_t row_end, float* out) {
  check_affine_shape(row_end, cols, format, scale_dtype);
  if (row_begin < 0 || row_begin > row_end) {
    fail("affine dequantization: row range [{}, {}) is invalid", row_begin,
         row_end);
  }
  const int group_size = format.group_size;
  const int64_t groups = cols / group_size;
  const int64_t bytes_per_row = cols * format.bits / 8;
  const int64_t bytes_per_group = group_size * format.bits / 8;
  const auto* packed_bytes = static_cast<const uint8_t*>(packed);
  parallel_for(row_end - row_begin, [&](int64_t i) {
    const int64_t r = row_begin + i;
    uint8_t codes[kMaxGroupSize];
    for (int64_t g = 0; g < groups; ++g) {
      unpack_affine_codes(
          packed_bytes + r * bytes_per_row + g * bytes_per_group, group_size,
          format.bits, codes);
      const GroupParams params{
          load_scale_value(scales, r * groups + g, scale_dtype),
          load_scale_value(biases, r * groups + g, scale_dtype)};
      affine_detail::dequantize_group(codes, group_size, params, scale_dtype,
                                      out + i * cols + g * group_size);
    }
  });
}

void dequantize_affine(const AffineQuantized& quantized, float* out) {
  dequantize_affine_rows(quantized.packed.data(), quantized.scales.data(),
                         quantized.biases.data(), quantized.scale_dtype,
                         quantized.cols, quantized.format, 0, quantized.rows,
                         out);
}

}  // namespace optiq
