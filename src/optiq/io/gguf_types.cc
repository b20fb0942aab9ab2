#include "optiq/io/gguf_types.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <limits>

#include "optiq/core/error.h"

namespace optiq {

namespace {

// 256: the super-block of the k-quants and i-quants (QK_K in ggml).
constexpr int64_t kSuperBlock = 256;

// Block bytes are the sizes ggml's static_asserts in ggml-common.h state
// for each block struct (an fp16 is 2 bytes).
constexpr std::array<GgufTensorTypeInfo, 35> kTensorTypes = {{
    {0, "f32", 1, 4, true},
    {1, "f16", 1, 2, true},
    {2, "q4_0", 32, 2 + 16, true},
    {3, "q4_1", 32, 2 * 2 + 16, true},
    {6, "q5_0", 32, 2 + 4 + 16, true},
    {7, "q5_1", 32, 2 * 2 + 4 + 16, true},
    {8, "q8_0", 32, 2 + 32, true},
    {9, "q8_1", 32, 2 * 2 + 32, false},
    {10, "q2_K", kSuperBlock, 2 * 2 + 16 + 64, true},
    {11, "q3_K", kSuperBlock, 2 + 64 + 32 + 12, true},
    {12, "q4_K", kSuperBlock, 2 * 2 + 12 + 128, true},
    {13, "q5_K", kSuperBlock, 2 * 2 + 12 + 128 + 32, true},
    {14, "q6_K", kSuperBlock, 2 + 16 + 192, true},
    {15, "q8_K", kSuperBlock, 4 + 256 + 16 * 2, false},
    {16, "iq2_xxs", kSuperBlock, 2 + 32 * 2, false},
    {17, "iq2_xs", kSuperBlock, 2 + 32 * 2 + 8, false},
    {18, "iq3_xxs", kSuperBlock, 2 + 3 * 32, false},
    {19, "iq1_s", kSuperBlock, 2 + 32 + 16, false},
    {20, "iq4_nl", 32, 2 + 16, false},
    {21, "iq3_s", kSuperBlock, 2 + 13 * 8 + 4, false},
    {22, "iq2_s", kSuperBlock, 2 + 64 + 16, false},
    {23, "iq4_xs", kSuperBlock, 2 + 2 + 4 + 128, false},
    {24, "i8", 1, 1, false},
    {25, "i16", 1, 2, false},
    {26, "i32", 1, 4, false},
    {27, "i64", 1, 8, false},
    {28, "f64", 1, 8, false},
    {29, "iq1_m", kSuperBlock, 32 + 16 + 8, false},
    {30, "bf16", 1, 2, true},
    {34, "tq1_0", kSuperBlock, 2 + 4 + 48, false},
    {35, "tq2_0", kSuperBlock, 2 + 64, false},
    {39, "mxfp4", 32, 1 + 16, false},
    {40, "nvfp4", 64, 4 + 32, false},
    {41, "q1_0", 128, 2 + 16, false},
    {42, "q2_0", 64, 2 + 16, false},
}};

}  // namespace

std::string_view gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
      return "u8";
    case GgufValueType::kInt8:
      return "i8";
    case GgufValueType::kUint16:
      return "u16";
    case GgufValueType::kInt16:
      return "i16";
    case GgufValueType::kUint32:
      return "u32";
    case GgufValueType::kInt32:
      return "i32";
    case GgufValueType::kFloat32:
      return "f32";
    case GgufValueType::kBool:
      return "bool";
    case GgufValueType::kString:
      return "str";
    case GgufValueType::kArray:
      return "arr";
    case GgufValueType::kUint64:
      return "u64";
    case GgufValueType::kInt64:
      return "i64";
    case GgufValueType::kFloat64:
      return "f64";
  }
  return "unknown";
}

uint64_t gguf_value_type_size(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

bool is_valid_gguf_value_type(uint32_t id) {
  return id <= static_cast<uint32_t>(GgufValueType::kFloat64);
}

const GgufTensorTypeInfo* find_gguf_tensor_type(uint32_t id) {
  for (const GgufTensorTypeInfo& info : kTensorTypes) {
    if (info.id == id) return &info;
  }
  return nullptr;
}

const GgufTensorTypeInfo* find_gguf_tensor_type(std::string_view name) {
  for (const GgufTensorTypeInfo& info : kTensorTypes) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

std::string gguf_tensor_type_name(uint32_t id) {
  const GgufTensorTypeInfo* info = find_gguf_tensor_type(id);
  if (info == nullptr) return fmt::format("unknown type {}", id);
  return std::string(info->name);
}

uint64_t gguf_tensor_nbytes(uint32_t id, std::span<const int64_t> ne,
                            std::string_view what) {
  const GgufTensorTypeInfo* info = find_gguf_tensor_type(id);
  if (info == nullptr) {
    fail("{}: unknown ggml tensor type id {}", what, id);
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t count = 1;
  bool empty = false;
  for (size_t i = 0; i < ne.size(); ++i) {
    if (ne[i] < 0) {
      fail("{}: dimension ne[{}] = {} is negative (shape [{}])", what, i, ne[i],
           fmt::join(ne, ", "));
    }
    if (ne[i] == 0) empty = true;
  }
  // Overflow is checked on the nonzero dimensions only, so that a shape
  // such as [2^40, 2^40, 0] is accepted as empty, as ggml does.
  for (int64_t dim : ne) {
    if (dim == 0) continue;
    if (count > kMax / dim) {
      fail("{}: element count of shape [{}] exceeds INT64_MAX", what,
           fmt::join(ne, ", "));
    }
    count *= dim;
  }
  const int64_t row = ne.empty() ? 1 : ne[0];
  if (row % info->block_size != 0) {
    fail(
        "{}: row length ne[0] = {} is not a multiple of the {}-element "
        "block of {}",
        what, row, info->block_size, info->name);
  }
  if (empty) return 0;
  const uint64_t blocks = static_cast<uint64_t>(count / info->block_size);
  if (blocks > static_cast<uint64_t>(kMax) / info->block_bytes) {
    fail("{}: {} tensor of shape [{}] exceeds INT64_MAX bytes", what,
         info->name, fmt::join(ne, ", "));
  }
  return blocks * info->block_bytes;
}

}  // namespace optiq
