// Element types of stored tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace optiq {

enum class DType : uint8_t { F32, F16, BF16, F64, I8, U8, I16, U16, I32, U32, I64, U64, BOOL };

// Bytes per element.
size_t dtype_size(DType dtype);

// Name as safetensors spells it ("F32", "BF16", ...).
std::string_view dtype_name(DType dtype);

std::optional<DType> parse_dtype(std::string_view name);

inline bool is_float_dtype(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

// Converts n elements of a float dtype (F32, F16, BF16) to float.
void convert_to_float(DType dtype, const void* src, float* dst, size_t n);

// Converts n floats to a float dtype, rounding to nearest even.
void convert_from_float(DType dtype, const float* src, void* dst, size_t n);

}  // namespace optiq
