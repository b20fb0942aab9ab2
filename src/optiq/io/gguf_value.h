// One GGUF metadata entry: a key and a typed value (a scalar, a string, or an
// array of scalars or strings).
//
// Nested arrays (arrays of arrays) are not supported: the reader rejects them
// as ggml's reader does, and this type cannot hold them.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "optiq/io/gguf_types.h"

namespace optiq {

class GgufValue {
 public:
  // The alternatives match GgufValueType one to one: the first twelve are
  // scalars, the last twelve arrays of those scalars (std::vector<bool> for
  // an array of bool, std::vector<std::string> for an array of strings).
  using Data = std::variant<
      uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
      std::string, uint64_t, int64_t, double, std::vector<uint8_t>,
      std::vector<int8_t>, std::vector<uint16_t>, std::vector<int16_t>,
      std::vector<uint32_t>, std::vector<int32_t>, std::vector<float>,
      std::vector<bool>, std::vector<std::string>, std::vector<uint64_t>,
      std::vector<int64_t>, std::vector<double>>;

  GgufValue() = default;
  GgufValue(std::string key, Data data);

  const std::string& key() const { return key_; }
  const Data& data() const { return data_; }

  // kArray for arrays, else the scalar type.
  GgufValueType type() const;
  bool is_array() const;
  // Type of the array's elements. Throws optiq::Error naming the key when
  // the value is not an array.
  GgufValueType element_type() const;
  // Number of array elements. Throws optiq::Error naming the key when the
  // value is not an array.
  size_t array_size() const;

  // Short description for messages and listings: "u32", "str",
  // "arr[str,32000]".
  std::string type_description() const;

  // Each accessor below throws optiq::Error naming the key and the stored
  // type when the value does not have a fitting type.

  // Any integer scalar type whose value fits in int64_t.
  int64_t as_int64() const;
  // Any integer scalar type whose value is non-negative.
  uint64_t as_uint64() const;
  // A float32 or float64 scalar, widened to double.
  double as_float() const;
  bool as_bool() const;
  const std::string& as_string() const;
  const std::vector<std::string>& as_string_array() const;
  // A float32 array, or a float64 array rounded to float.
  std::vector<float> as_float_array() const;
  // An array of any integer type whose elements all fit in int64_t.
  std::vector<int64_t> as_int_array() const;

 private:
  [[noreturn]] void fail_type(const char* expected) const;

  std::string key_;
  Data data_;
};

}  // namespace optiq
