// Typed access to a parsed JSON document with errors that name the file
// and the key path (for example `model.merges[12]`).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace optiq {

// A JSON value together with the file and key path it was read from.
class JsonNode {
 public:
  JsonNode(const nlohmann::json& value, const std::string& file,
           std::string key)
      : value_(&value), file_(&file), key_(std::move(key)) {}

  // Parses the whole file; throws optiq::Error naming it for unreadable
  // files and invalid JSON.
  static nlohmann::json parse_file(const std::filesystem::path& path);

  const nlohmann::json& value() const { return *value_; }
  const std::string& key() const { return key_; }
  const std::string& file() const { return *file_; }
  bool is_null() const { return value_->is_null(); }

  // Member `name`; throws when this is not an object or `name` is missing.
  JsonNode at(std::string_view name) const;
  // Member `name`, or a node holding null when it is missing.
  JsonNode get(std::string_view name) const;
  // Element `index` of an array.
  JsonNode at(size_t index) const;
  // Number of elements; throws when this is not an array.
  size_t array_size() const;

  std::string as_string() const;
  bool as_bool() const;
  int64_t as_int() const;
  // Member `name` as a string / bool, or `fallback` when missing or null.
  std::string string_or(std::string_view name,
                        const std::string& fallback) const;
  bool bool_or(std::string_view name, bool fallback) const;

  // Throws optiq::Error "<file>: key "<key>": <message>".
  [[noreturn]] void fail_here(const std::string& message) const;

 private:
  static const nlohmann::json& null_value();
  const nlohmann::json* value_;
  const std::string* file_;
  std::string key_;
};

}  // namespace optiq
