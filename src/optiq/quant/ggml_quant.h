// ggml / GGUF tensor types: block layouts, quantizers and dequantizers.
//
// Layouts and dequantization follow ggml's ggml-common.h and ggml-quants.c
// as of ggml v0.21.0 (github.com/ggml-org/ggml commit d99724f2, which syncs
// llama.cpp commit d3cf1f14). Every dequantizer rounds each product and sum
// separately, as ggml's dequantize_row_* do in ggml-base on x86-64, and
// matches them bit for bit there (checked on random blocks). A ggml build
// that fuses d * q - m into one FMA, as GCC may on AArch64, can differ in
// the last bit.
//
// Quantizers start from llama.cpp's own algorithm for the type (the *_ref
// quantizer without an importance vector, quantize_row_*_impl with one) and
// then refine the block. The refinement tries neighbouring integer scale
// and min codes and refits the F16 scales by least squares. It keeps a
// change only when the block's weighted squared error
// sum_i w_i (x_i - dequant_i)^2 drops, with w_i = importance_i (or 1 without
// importance). The start matches llama.cpp's up to float rounding, so the
// error ends at or below llama.cpp's on that objective. The tests check
// this against llama.cpp's error on fixed inputs.
//
// Blocks run along a row: a row of n elements is n / block_size blocks of
// block_bytes each, and a matrix is rows stored one after another (GGUF
// ne[0] = cols). All functions are thread-safe.
//
// NOTE: quantized bytes can differ between builds for different instruction
// sets, because the scale searches may use fused multiply-add. Within one
// build they do not depend on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace optiq {

// ggml type ids, the values stored in GGUF tensor infos.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  BF16 = 30,
};

// Returns the type's name in llama-quantize's spelling ("Q4_K", "F16",
// "BF16"). ggml's own ggml_type_name spells the same types in lower case
// with an upper-case K ("q4_K"); parse_ggml_type accepts both.
std::string_view ggml_type_name(GgmlType type);

// Parses a type name, ignoring case; nullopt for unknown or unsupported names.
std::optional<GgmlType> parse_ggml_type(std::string_view name);

// True when `id` is one of the ggml type ids listed in GgmlType.
bool is_supported_ggml_type(uint32_t id);

// Elements per block: 1 for F32/F16/BF16, 32 for Q4_0..Q8_0, 256 for k-quants.
int64_t ggml_block_size(GgmlType type);

// Bytes per block, e.g. 144 for Q4_K.
size_t ggml_block_bytes(GgmlType type);

// Bytes of one row of n elements. Throws optiq::Error when n is negative or
// not a multiple of the block size.
size_t ggml_row_bytes(GgmlType type, int64_t n);

// Quantizes one row of n floats into ggml_row_bytes(type, n) bytes at `out`.
// `importance` is null or contains n non-negative weights: the mean x^2 of
// each column's input activations, as llama-imatrix stores them. With it the
// quantizer minimises the importance-weighted squared error.
// Throws optiq::Error before writing anything when n is not a multiple of
// the block size, when `importance` contains a negative or non-finite
// value, or when x contains NaN, inf or a value beyond the type's range.
// That range is 65504 (the largest F16) for F16 and every block type,
// because their scales are F16, and the finite BF16 values for BF16.
void ggml_quantize_row(GgmlType type, const float* x, void* out, int64_t n,
                       const float* importance);

// Decodes ggml_row_bytes(type, n) bytes into n floats. Throws optiq::Error
// when n is not a multiple of the block size.
void ggml_dequantize_row(GgmlType type, const void* in, float* out, int64_t n);

// Quantizes a row-major [rows, cols] matrix into `out`, resized to
// rows * ggml_row_bytes(type, cols). `importance` is null or has cols
// entries, shared by all rows. Rows run in parallel and each row's bytes
// depend only on that row, so the result is the same for any thread count.
// Errors as for ggml_quantize_row, with the row and column in the message.
void ggml_quantize_matrix(GgmlType type, const float* w, int64_t rows,
                          int64_t cols, const float* importance,
                          std::vector<uint8_t>& out);

// Quantizes then dequantizes a [rows, cols] matrix into `out`, which has
// room for rows * cols floats and may equal w. The result is what a GGUF
// reader would see.
void ggml_fake_quantize_matrix(GgmlType type, const float* w, int64_t rows,
                               int64_t cols, const float* importance,
                               float* out);

// Returns the type llama.cpp's quantize tool stores when a row of `cols`
// elements is not a multiple of `wanted`'s block size (llama.cpp
// src/llama-quant.cpp at commit 007dbbf3, tensor_type_fallback):
// Q2_K and Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, and F16
// when the fallback's 32 does not divide either. For Q4_0..Q8_0 with
// cols % 32 != 0 it returns F16, where llama.cpp throws. Returns `wanted`
// when its block size divides cols. Throws optiq::Error for cols < 0.
GgmlType ggml_fallback_type(GgmlType wanted, int64_t cols);

}  // namespace optiq
