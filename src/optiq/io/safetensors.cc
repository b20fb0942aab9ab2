#include "optiq/io/safetensors.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "optiq/core/error.h"
#include "optiq/io/atomic_output.h"

using nlohmann::json;

namespace optiq {

int64_t checked_numel(const std::vector<int64_t>& shape, std::string_view what) {
  int64_t numel = 1;
  for (int64_t dim : shape) {
    if (dim < 0) fail("{}: negative dimension {} in shape [{}]", what, dim, fmt::join(shape, ", "));
    if (dim != 0 && numel > std::numeric_limits<int64_t>::max() / dim) {
      fail("{}: shape [{}] overflows 64 bits", what, fmt::join(shape, ", "));
    }
    numel *= dim;
  }
  return numel;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

namespace {

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// Parses the header JSON, rejecting duplicate top-level keys (nlohmann would
// otherwise keep the last one silently).
json parse_header(std::string_view text, const std::string& file) {
  std::set<std::string> keys;
  std::string duplicate;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!keys.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text.begin(), text.end(), callback);
  } catch (const json::parse_error& e) {
    fail("{}: invalid safetensors header JSON: {}", file, e.what());
  }
  if (!duplicate.empty()) fail("{}: duplicate tensor name '{}' in header", file, duplicate);
  if (!header.is_object()) fail("{}: safetensors header is not a JSON object", file);
  return header;
}

std::vector<int64_t> parse_shape(const json& value, const std::string& where) {
  if (!value.is_array()) fail("{}: 'shape' is not an array: {}", where, value.dump());
  std::vector<int64_t> shape;
  for (const json& dim : value) {
    if (!dim.is_number_integer() || dim.get<int64_t>() < 0) {
      fail("{}: invalid dimension {} in shape {}", where, dim.dump(), value.dump());
    }
    shape.push_back(dim.get<int64_t>());
  }
  return shape;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : file_(path) {
  const std::string name = path.string();
  const uint64_t size = file_.size();
  if (size < 8) fail("{}: file is {} bytes, too short for a safetensors header", name, size);
  const uint64_t header_len = read_u64_le(file_.data());
  if (header_len > kMaxSafetensorsHeader) {
    fail("{}: header length {} exceeds the {}-byte limit", name, header_len,
         kMaxSafetensorsHeader);
  }
  if (header_len > size - 8) {
    fail("{}: header length {} runs past the end of the {}-byte file (truncated?)", name,
         header_len, size);
  }
  std::string_view text(reinterpret_cast<const char*>(file_.data() + 8), header_len);
  json header = parse_header(text, name);

  const uint8_t* data_section = file_.data() + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;

  for (auto& [key, entry] : header.items()) {
    if (key == "__metadata__") {
      if (entry.is_null()) continue;
      if (!entry.is_object()) fail("{}: '__metadata__' is not an object", name);
      for (auto& [meta_key, meta_value] : entry.items()) {
        if (!meta_value.is_string()) {
          fail("{}: metadata value of '{}' is not a string: {}", name, meta_key,
               meta_value.dump());
        }
        metadata_[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    const std::string where = fmt::format("{}: tensor '{}'", name, key);
    if (!entry.is_object()) fail("{}: entry is not an object", where);
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!entry.contains(field)) fail("{}: missing '{}'", where, field);
    }
    if (!entry["dtype"].is_string()) fail("{}: 'dtype' is not a string", where);
    std::string dtype_text = entry["dtype"].get<std::string>();
    std::optional<DType> dtype = parse_dtype(dtype_text);
    if (!dtype) fail("{}: unknown dtype '{}'", where, dtype_text);

    TensorView view;
    view.name = key;
    view.dtype = *dtype;
    view.shape = parse_shape(entry["shape"], where);
    int64_t numel = checked_numel(view.shape, where);

    const json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      fail("{}: 'data_offsets' must be two non-negative integers, got {}", where,
           offsets.dump());
    }
    uint64_t begin = offsets[0].get<uint64_t>();
    uint64_t end = offsets[1].get<uint64_t>();
    if (begin > end) fail("{}: data_offsets [{}, {}] are reversed", where, begin, end);
    if (end > data_size) {
      fail("{}: data_offsets [{}, {}] run past the {}-byte data section (truncated?)", where,
           begin, end, data_size);
    }
    uint64_t element_size = dtype_size(*dtype);
    if (static_cast<uint64_t>(numel) > std::numeric_limits<uint64_t>::max() / element_size ||
        end - begin != static_cast<uint64_t>(numel) * element_size) {
      fail("{}: data_offsets span {} bytes but shape [{}] of {} needs {}", where, end - begin,
           fmt::join(view.shape, ", "), dtype_text, static_cast<uint64_t>(numel) * element_size);
    }
    view.data = data_section + begin;
    view.nbytes = end - begin;
    tensors_.push_back(std::move(view));
  }

  // Overlap check on the spans sorted by start.
  std::vector<const TensorView*> by_offset;
  for (const TensorView& view : tensors_) by_offset.push_back(&view);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorView* a, const TensorView* b) { return a->data < b->data; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorView* prev = by_offset[i - 1];
    const TensorView* cur = by_offset[i];
    if (prev->nbytes > 0 && cur->nbytes > 0 && prev->data + prev->nbytes > cur->data) {
      fail("{}: tensors '{}' and '{}' overlap in the data section", name, prev->name, cur->name);
    }
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const TensorView& a, const TensorView& b) { return a.name < b.name; });
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorView& t, std::string_view n) { return t.name < n; });
  if (it == tensors_.end() || it->name != name) return nullptr;
  return &*it;
}

const TensorView& SafetensorsFile::at(std::string_view name) const {
  const TensorView* view = find(name);
  if (view == nullptr) fail("{}: tensor '{}' not found", path().string(), name);
  return *view;
}

void write_safetensors(const std::filesystem::path& path,
                       const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (const TensorToWrite& t : tensors) {
    uint64_t bytes = static_cast<uint64_t>(checked_numel(t.shape, t.name)) * dtype_size(t.dtype);
    if (header.contains(t.name)) fail("{}: duplicate tensor name '{}'", path.string(), t.name);
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    sizes.push_back(bytes);
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  AtomicOutput output(path, /*is_directory=*/false);
  std::ofstream stream(output.temporary_path(), std::ios::binary);
  uint8_t length[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(n >> (8 * i));
  stream.write(reinterpret_cast<const char*>(length), 8);
  stream.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (size_t i = 0; i < tensors.size(); ++i) {
    stream.write(static_cast<const char*>(tensors[i].data), static_cast<std::streamsize>(sizes[i]));
  }
  stream.close();
  if (!stream) fail("cannot write '{}'", output.temporary_path().string());
  output.commit();
}

}  // namespace optiq
