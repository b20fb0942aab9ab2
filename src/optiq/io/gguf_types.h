// Constants and type tables of the GGUF container format.
//
// Followed: the GGUF specification in ggml's docs/gguf.md and the reference
// reader and writer in ggml's src/gguf.cpp, both at ggml-org/ggml commit
// d99724f2b141fed9e1a9f402213506c081433465 (August 2026), where GGUF_VERSION
// is 3. Tensor block sizes come from src/ggml.c (type_traits) and
// src/ggml-common.h (the block structs) at that commit.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace optiq {

// "GGUF" as the first four bytes of the file.
inline constexpr char kGgufMagic[4] = {'G', 'G', 'U', 'F'};

// Version this code writes. The reader accepts 2 and 3, which share one byte
// layout: version 3 only added the option of big-endian files, and version 2
// widened counts and lengths from 32 to 64 bits.
inline constexpr uint32_t kGgufVersion = 3;

inline constexpr std::string_view kGgufAlignmentKey = "general.alignment";

// Data alignment in bytes when the file has no `general.alignment` key.
inline constexpr uint32_t kGgufDefaultAlignment = 32;

// ggml's GGML_MAX_DIMS: tensors have 0 to 4 dimensions.
inline constexpr uint32_t kGgufMaxDims = 4;

// Maximum tensor name length in bytes. ggml stores names in
// char[GGML_MAX_NAME = 64] including the terminating NUL, and its reader
// rejects longer names.
inline constexpr uint64_t kGgufMaxTensorName = 63;

// Caps on one metadata string and one array, the same as ggml's reader
// (GGUF_MAX_STRING_LENGTH and GGUF_MAX_ARRAY_ELEMENTS, 2^30 each). Both are
// also capped by the bytes left in the file.
inline constexpr uint64_t kGgufMaxStringLength = uint64_t{1} << 30;
inline constexpr uint64_t kGgufMaxArrayLength = uint64_t{1} << 30;

// Metadata value type ids (gguf_type in ggml).
enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// Short name as ggml prints it ("u32", "str", "arr"), or "unknown".
std::string_view gguf_value_type_name(GgufValueType type);

// Bytes one value of a fixed-size type occupies in the file, or 0 for string
// and array, whose size depends on their contents.
uint64_t gguf_value_type_size(GgufValueType type);

bool is_valid_gguf_value_type(uint32_t id);

// Tensor type ids (ggml_type). Ids 4, 5, 31-33 and 36-38 belonged to formats
// that ggml removed and are rejected as unknown.
namespace gguf_tensor_type {
inline constexpr uint32_t kF32 = 0;
inline constexpr uint32_t kF16 = 1;
inline constexpr uint32_t kQ4_0 = 2;
inline constexpr uint32_t kQ4_1 = 3;
inline constexpr uint32_t kQ5_0 = 6;
inline constexpr uint32_t kQ5_1 = 7;
inline constexpr uint32_t kQ8_0 = 8;
inline constexpr uint32_t kQ8_1 = 9;
inline constexpr uint32_t kQ2_K = 10;
inline constexpr uint32_t kQ3_K = 11;
inline constexpr uint32_t kQ4_K = 12;
inline constexpr uint32_t kQ5_K = 13;
inline constexpr uint32_t kQ6_K = 14;
inline constexpr uint32_t kQ8_K = 15;
inline constexpr uint32_t kIQ2_XXS = 16;
inline constexpr uint32_t kIQ2_XS = 17;
inline constexpr uint32_t kIQ3_XXS = 18;
inline constexpr uint32_t kIQ1_S = 19;
inline constexpr uint32_t kIQ4_NL = 20;
inline constexpr uint32_t kIQ3_S = 21;
inline constexpr uint32_t kIQ2_S = 22;
inline constexpr uint32_t kIQ4_XS = 23;
inline constexpr uint32_t kI8 = 24;
inline constexpr uint32_t kI16 = 25;
inline constexpr uint32_t kI32 = 26;
inline constexpr uint32_t kI64 = 27;
inline constexpr uint32_t kF64 = 28;
inline constexpr uint32_t kIQ1_M = 29;
inline constexpr uint32_t kBF16 = 30;
inline constexpr uint32_t kTQ1_0 = 34;
inline constexpr uint32_t kTQ2_0 = 35;
inline constexpr uint32_t kMXFP4 = 39;
inline constexpr uint32_t kNVFP4 = 40;
inline constexpr uint32_t kQ1_0 = 41;
inline constexpr uint32_t kQ2_0 = 42;
}  // namespace gguf_tensor_type

// Storage layout of one ggml tensor type: elements are stored in blocks of
// `block_size` consecutive elements along ne[0], each `block_bytes` long.
struct GgufTensorTypeInfo {
  uint32_t id = 0;
  std::string_view name;  // as ggml names it: "f32", "q4_0", "q6_K"
  int64_t block_size = 1;
  uint64_t block_bytes = 0;
  // True for the types optiq can dequantize: F32, F16, BF16, Q4_0, Q4_1,
  // Q5_0, Q5_1, Q8_0 and Q2_K to Q6_K. The others are only sized, so that
  // files holding them can still be listed and copied.
  bool dequantizable = false;
};

// Layout of type `id`, or nullptr for an id ggml does not define.
const GgufTensorTypeInfo* find_gguf_tensor_type(uint32_t id);

// Layout of type `name` ("q4_K"), or nullptr when unknown.
const GgufTensorTypeInfo* find_gguf_tensor_type(std::string_view name);

// ggml's name of type `id`, or "unknown type <id>".
std::string gguf_tensor_type_name(uint32_t id);

// Bytes a tensor of type `id` and shape `ne` (ggml order, ne[0] the
// fastest-varying dimension) occupies. Throws optiq::Error, starting the
// message with `what`, on an unknown type, a negative dimension, ne[0] not a
// multiple of the block size, or an element count or byte size above
// INT64_MAX.
uint64_t gguf_tensor_nbytes(uint32_t id, std::span<const int64_t> ne,
                            std::string_view what);

}  // namespace optiq
