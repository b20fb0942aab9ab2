#include "optiq/io/gguf_value.h"

#include <fmt/format.h>

#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

#include "optiq/core/error.h"

namespace optiq {

namespace {

// Data alternatives 0..11 are scalars in GgufValueType order, skipping the
// id kArray (9); alternatives 12..23 are arrays of the same scalars.
constexpr size_t kScalarCount = 12;

GgufValueType scalar_type_of_index(size_t index) {
  const size_t scalar = index % kScalarCount;
  const size_t id = scalar < 9 ? scalar : scalar + 1;
  return static_cast<GgufValueType>(id);
}

template <typename T>
constexpr bool kIsInteger = std::is_integral_v<T> && !std::is_same_v<T, bool>;

template <typename T>
struct IsIntegerVector : std::false_type {};
template <typename E>
struct IsIntegerVector<std::vector<E>> : std::bool_constant<kIsInteger<E>> {};

// The value of an integer as int64_t, or nullopt when it does not fit.
template <typename T>
std::optional<int64_t> to_int64(T value) {
  if constexpr (std::is_same_v<T, uint64_t>) {
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
  }
  return static_cast<int64_t>(value);
}

}  // namespace

GgufValue::GgufValue(std::string key, Data data)
    : key_(std::move(key)), data_(std::move(data)) {}

GgufValueType GgufValue::type() const {
  if (is_array()) return GgufValueType::kArray;
  return scalar_type_of_index(data_.index());
}

bool GgufValue::is_array() const { return data_.index() >= kScalarCount; }

GgufValueType GgufValue::element_type() const {
  if (!is_array()) fail_type("array");
  return scalar_type_of_index(data_.index());
}

size_t GgufValue::array_size() const {
  if (!is_array()) fail_type("array");
  return std::visit(
      [](const auto& value) -> size_t {
        using T = std::decay_t<decltype(value)>;
        if constexpr (requires { value.size(); } &&
                      !std::is_same_v<T, std::string>) {
          return value.size();
        } else {
          return 0;
        }
      },
      data_);
}

std::string GgufValue::type_description() const {
  if (!is_array()) return std::string(gguf_value_type_name(type()));
  return fmt::format("arr[{},{}]", gguf_value_type_name(element_type()),
                     array_size());
}

void GgufValue::fail_type(const char* expected) const {
  fail("metadata key '{}': expected {}, but the value is {}", key_, expected,
       type_description());
}

int64_t GgufValue::as_int64() const {
  std::optional<int64_t> result = std::visit(
      [this](const auto& value) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(value)>;
        if constexpr (kIsInteger<T>) {
          return to_int64(value);
        } else {
          fail_type("an integer");
        }
      },
      data_);
  if (!result) {
    fail("metadata key '{}': value {} does not fit in int64", key_,
         std::get<uint64_t>(data_));
  }
  return *result;
}

uint64_t GgufValue::as_uint64() const {
  return std::visit(
      [this](const auto& value) -> uint64_t {
        using T = std::decay_t<decltype(value)>;
        if constexpr (kIsInteger<T>) {
          if constexpr (std::is_signed_v<T>) {
            if (value < 0) {
              fail("metadata key '{}': expected a non-negative integer, got {}",
                   key_, value);
            }
          }
          return static_cast<uint64_t>(value);
        } else {
          fail_type("an integer");
        }
      },
      data_);
}

double GgufValue::as_float() const {
  if (const float* value = std::get_if<float>(&data_)) return *value;
  if (const double* value = std::get_if<double>(&data_)) return *value;
  fail_type("f32 or f64");
}

bool GgufValue::as_bool() const {
  if (const bool* value = std::get_if<bool>(&data_)) return *value;
  fail_type("bool");
}

const std::string& GgufValue::as_string() const {
  if (const std::string* value = std::get_if<std::string>(&data_)) {
    return *value;
  }
  fail_type("str");
}

const std::vector<std::string>& GgufValue::as_string_array() const {
  if (const auto* value = std::get_if<std::vector<std::string>>(&data_)) {
    return *value;
  }
  fail_type("arr[str]");
}

std::vector<float> GgufValue::as_float_array() const {
  if (const auto* value = std::get_if<std::vector<float>>(&data_)) {
    return *value;
  }
  if (const auto* value = std::get_if<std::vector<double>>(&data_)) {
    return std::vector<float>(value->begin(), value->end());
  }
  fail_type("arr[f32] or arr[f64]");
}

std::vector<int64_t> GgufValue::as_int_array() const {
  return std::visit(
      [this](const auto& value) -> std::vector<int64_t> {
        using T = std::decay_t<decltype(value)>;
        if constexpr (IsIntegerVector<T>::value) {
          std::vector<int64_t> result;
          result.reserve(value.size());
          for (size_t i = 0; i < value.size(); ++i) {
            std::optional<int64_t> element = to_int64(value[i]);
            if (!element) {
              fail("metadata key '{}': element {} = {} does not fit in int64",
                   key_, i, value[i]);
            }
            result.push_back(*element);
          }
          return result;
        } else {
          fail_type("an integer array");
        }
      },
      data_);
}

}  // namespace optiq
