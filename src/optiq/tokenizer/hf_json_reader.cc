#include "optiq/tokenizer/hf_json_reader.h"

#include "optiq/core/error.h"
#include "optiq/io/mapped_file.h"

namespace optiq {
namespace {

// The JSON of `value`, cut to a length that fits in an error message.
std::string excerpt(const nlohmann::json& value) {
  std::string text = value.dump();
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

}  // namespace

nlohmann::json JsonNode::parse_file(const std::filesystem::path& path) {
  const MappedFile file(path);
  const auto* begin = reinterpret_cast<const char*>(file.data());
  try {
    return nlohmann::json::parse(begin, begin + file.size());
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: invalid JSON: {}", path.string(), e.what());
  }
}

const nlohmann::json& JsonNode::null_value() {
  static const nlohmann::json null_json;
  return null_json;
}

void JsonNode::fail_here(const std::string& message) const {
  fail("{}: key \"{}\": {}", *file_, key_, message);
}

JsonNode JsonNode::at(std::string_view name) const {
  const std::string child_key =
      key_.empty() ? std::string(name) : key_ + "." + std::string(name);
  if (!value_->is_object())
    fail_here("expected an object, got " + excerpt(*value_));
  const auto it = value_->find(name);
  if (it == value_->end()) fail("{}: key \"{}\" is missing", *file_, child_key);
  return JsonNode(*it, *file_, child_key);
}

JsonNode JsonNode::get(std::string_view name) const {
  const std::string child_key =
      key_.empty() ? std::string(name) : key_ + "." + std::string(name);
  if (!value_->is_object())
    fail_here("expected an object, got " + excerpt(*value_));
  const auto it = value_->find(name);
  return JsonNode(it == value_->end() ? null_value() : *it, *file_, child_key);
}

JsonNode JsonNode::at(size_t index) const {
  const size_t size = array_size();
  OPTIQ_ASSERT(index < size);
  return JsonNode((*value_)[index], *file_,
                  key_ + "[" + std::to_string(index) + "]");
}

size_t JsonNode::array_size() const {
  if (!value_->is_array())
    fail_here("expected an array, got " + excerpt(*value_));
  return value_->size();
}

std::string JsonNode::as_string() const {
  if (!value_->is_string())
    fail_here("expected a string, got " + excerpt(*value_));
  return value_->get<std::string>();
}

bool JsonNode::as_bool() const {
  if (!value_->is_boolean())
    fail_here("expected true or false, got " + excerpt(*value_));
  return value_->get<bool>();
}

int64_t JsonNode::as_int() const {
  if (!value_->is_number_integer()) {
    fail_here("expected an integer, got " + excerpt(*value_));
  }
  return value_->get<int64_t>();
}

std::string JsonNode::string_or(std::string_view name,
                                const std::string& fallback) const {
  const JsonNode child = get(name);
  return child.is_null() ? fallback : child.as_string();
}

bool JsonNode::bool_or(std::string_view name, bool fallback) const {
  const JsonNode child = get(name);
  return child.is_null() ? fallback : child.as_bool();
}

}  // namespace optiq
