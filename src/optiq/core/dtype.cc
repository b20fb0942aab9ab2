#include "optiq/core/dtype.h"

#include <array>
#include <cstring>

#include "optiq/core/error.h"
#include "optiq/core/half.h"

namespace optiq {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr std::array<DTypeInfo, 13> kDTypes = {{
    {DType::F32, "F32", 4},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::F64, "F64", 8},
    {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},
    {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},
    {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},
    {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},
    {DType::BOOL, "BOOL", 1},
}};

const DTypeInfo& info(DType dtype) {
  for (const DTypeInfo& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  OPTIQ_ASSERT(false);
  return kDTypes[0];
}

}  // namespace

size_t dtype_size(DType dtype) { return info(dtype).size; }

std::string_view dtype_name(DType dtype) { return info(dtype).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const DTypeInfo& entry : kDTypes) {
    if (entry.name == name) return entry.dtype;
  }
  return std::nullopt;
}

void convert_to_float(DType dtype, const void* src, float* dst, size_t n) {
  switch (dtype) {
    case DType::F32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::F16:
      f16_to_float_n(static_cast<const uint16_t*>(src), dst, n);
      return;
    case DType::BF16:
      bf16_to_float_n(static_cast<const uint16_t*>(src), dst, n);
      return;
    default:
      fail("cannot convert {} tensor data to float", dtype_name(dtype));
  }
}

void convert_from_float(DType dtype, const float* src, void* dst, size_t n) {
  switch (dtype) {
    case DType::F32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::F16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) out[i] = float_to_f16(src[i]);
      return;
    }
    case DType::BF16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) out[i] = float_to_bf16(src[i]);
      return;
    }
    default:
      fail("cannot convert float data to {}", dtype_name(dtype));
  }
}

}  // namespace optiq
