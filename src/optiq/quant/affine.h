// Group-wise affine (asymmetric) quantization in the layout of MLX and
// mlx-lm.
//
// A weight matrix is [rows = out features, cols = in features], row-major.
// Each row is cut into groups of `group_size` consecutive columns. A group
// stores one scale s and one bias b in the scale dtype (F16, BF16 or F32),
// and each weight becomes a code q in [0, 2^bits - 1] with w ≈ s·q + b.
//
// Storage, as MLX's `quantize` writes it and its `dequantize` and
// `quantized_matmul` read it:
//   weight  uint32 [rows, cols·bits/32]: codes of a row as one little-endian
//           bit stream, code i in bits [i·bits, i·bits + bits), lowest first;
//           3-, 5- and 6-bit codes cross word boundaries.
//   scales  scale dtype [rows, cols/group_size]
//   biases  scale dtype [rows, cols/group_size]
//
// Dequantization follows MLX's CPU arithmetic: the value of code q is
// R(R(s·q) + b), where R rounds to the scale dtype (to nearest even) after
// each operation, exactly as MLX's float16/bfloat16 multiply and add do.
// optiq's writer rounds s and b to the scale dtype first and picks codes
// against the rounded values, so the dequantized file and the output of
// fake_quantize_affine are bit-identical.
#pragma once

#include <cstdint>
#include <vector>

#include "optiq/core/dtype.h"

namespace optiq {

struct AffineFormat {
  int bits = 4;         // 2, 3, 4, 5, 6 or 8
  int group_size = 64;  // 32, 64 or 128
};

// True when MLX supports the bit width and group size.
bool is_valid_affine_format(AffineFormat format);

// True for the scale dtypes MLX stores: F16, BF16, F32.
bool is_valid_affine_scale_dtype(DType dtype);

// One quantized matrix. `scales` and `biases` hold rows·cols/group_size
// elements of `scale_dtype` as little-endian bytes.
struct AffineQuantized {
  int64_t rows = 0;
  int64_t cols = 0;
  AffineFormat format;
  DType scale_dtype = DType::F16;
  std::vector<uint32_t> packed;  // rows · cols·bits/32 words
  std::vector<uint8_t> scales;
  std::vector<uint8_t> biases;
};

struct AffineOptions {
  // Searches a few clipped ranges per group, refits scale and bias by
  // weighted least squares, and keeps the result only when its weighted
  // squared error is below that of MLX's min/max rule. When false, every
  // group uses MLX's rule, as MLX's `quantize` does.
  bool search_clipping = true;
  // Per-input-channel importance, `cols` non-negative values (mean of x² over
  // calibration tokens), or null to weight all channels equally. Only used
  // by the clipping search.
  const float* importance = nullptr;
};

// Quantizes `w` (rows × cols floats, row-major). Throws optiq::Error when the
// format, scale dtype or shape is unsupported, when `w` contains NaN or
// infinity, when an importance value is negative or not finite, or when a
// scale or bias overflows the scale dtype.
AffineQuantized quantize_affine(const float* w, int64_t rows, int64_t cols,
                                AffineFormat format, DType scale_dtype,
                                const AffineOptions& options = {});

// Writes dequant(quantize_affine(w)) into `out` (rows × cols floats) without
// building the packed form. Same errors as quantize_affine.
void fake_quantize_affine(const float* w, int64_t rows, int64_t cols,
                          AffineFormat format, DType scale_dtype,
                          const AffineOptions& options, float* out);

// Dequantizes rows [row_begin, row_end) of a stored matrix into `out`
// ((row_end - row_begin) × cols floats). `packed`, `scales` and `biases`
// point at the start of the whole matrix (row 0), for example inside a
// memory-mapped safetensors file; they need no alignment. Assumes a
// little-endian host, as safetensors data is little-endian.
void dequantize_affine_rows(const void* packed, const void* scales,
                            const void* biases, DType scale_dtype, int64_t cols,
                            AffineFormat format, int64_t row_begin,
                            int64_t row_end, float* out);

// Dequantizes a whole AffineQuantized matrix into rows × cols floats.
void dequantize_affine(const AffineQuantized& quantized, float* out);

// Bytes of packed weights plus scales plus biases.
uint64_t affine_storage_bytes(int64_t rows, int64_t cols, AffineFormat format,
                              DType scale_dtype);

// Throws optiq::Error naming the shape and format unless `format` and
// `scale_dtype` are supported, rows >= 0, cols > 0 and cols is divisible by
// the group size.
void check_affine_shape(int64_t rows, int64_t cols, AffineFormat format,
                        DType scale_dtype);

}  // namespace optiq
