// Type table: names, block sizes and llama.cpp's fallback rule.
#include <array>
#include <cctype>

#include "optiq/core/error.h"
#include "optiq/quant/ggml_quant.h"

namespace optiq {
namespace {

struct TypeInfo {
  GgmlType type;
  std::string_view name;
  int64_t block_size;
  size_t block_bytes;
};

// Sizes from ggml-common.h (ggml v0.21.0).
constexpr std::array<TypeInfo, 13> kTypes = {{
    {GgmlType::F32, "F32", 1, 4},
    {GgmlType::F16, "F16", 1, 2},
    {GgmlType::Q4_0, "Q4_0", 32, 18},
    {GgmlType::Q4_1, "Q4_1", 32, 20},
    {GgmlType::Q5_0, "Q5_0", 32, 22},
    {GgmlType::Q5_1, "Q5_1", 32, 24},
    {GgmlType::Q8_0, "Q8_0", 32, 34},
    {GgmlType::Q2_K, "Q2_K", 256, 84},
    {GgmlType::Q3_K, "Q3_K", 256, 110},
    {GgmlType::Q4_K, "Q4_K", 256, 144},
    {GgmlType::Q5_K, "Q5_K", 256, 176},
    {GgmlType::Q6_K, "Q6_K", 256, 210},
    {GgmlType::BF16, "BF16", 1, 2},
}};

const TypeInfo* find_info(uint32_t id) {
  for (const TypeInfo& info : kTypes) {
    if (static_cast<uint32_t>(info.type) == id) return &info;
  }
  return nullptr;
}

const TypeInfo& info_of(GgmlType type) {
  const TypeInfo* info = find_info(static_cast<uint32_t>(type));
  if (info == nullptr) {
    fail("unsupported ggml type id {}", static_cast<uint32_t>(type));
  }
  return *info;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto ca = static_cast<unsigned char>(a[i]);
    const auto cb = static_cast<unsigned char>(b[i]);
    if (std::tolower(ca) != std::tolower(cb)) return false;
  }
  return true;
}

}  // namespace

std::string_view ggml_type_name(GgmlType type) { return info_of(type).name; }

std::optional<GgmlType> parse_ggml_type(std::string_view name) {
  for (const TypeInfo& info : kTypes) {
    if (equal_ignoring_case(name, info.name)) return info.type;
  }
  return std::nullopt;
}

bool is_supported_ggml_type(uint32_t id) { return find_info(id) != nullptr; }

int64_t ggml_block_size(GgmlType type) { return info_of(type).block_size; }

size_t ggml_block_bytes(GgmlType type) { return info_of(type).block_bytes; }

size_t ggml_row_bytes(GgmlType type, int64_t n) {
  const TypeInfo& info = info_of(type);
  if (n < 0 || n % info.block_size != 0) {
    fail("row length {} is not a multiple of {}'s block size {}", n, info.name,
         info.block_size);
  }
  return static_cast<size_t>(n / info.block_size) * info.block_bytes;
}

GgmlType ggml_fallback_type(GgmlType wanted, int64_t cols) {
  if (cols < 0)
    fail("invalid column count {} for {}", cols, ggml_type_name(wanted));
  if (cols % ggml_block_size(wanted) == 0) return wanted;
  GgmlType fallback = GgmlType::F16;
  switch (wanted) {
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
      fallback = GgmlType::Q4_0;
      break;
    case GgmlType::Q4_K:
      fallback = GgmlType::Q5_0;
      break;
    case GgmlType::Q5_K:
      fallback = GgmlType::Q5_1;
      break;
    case GgmlType::Q6_K:
      fallback = GgmlType::Q8_0;
      break;
    default:
      break;
  }
  return cols % ggml_block_size(fallback) == 0 ? fallback : GgmlType::F16;
}

}  // namespace optiq
