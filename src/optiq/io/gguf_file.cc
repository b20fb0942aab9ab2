#include "optiq/io/gguf_file.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <bit>
#include <utility>

#include "optiq/core/error.h"
#include "optiq/io/gguf_cursor.h"

namespace optiq {

namespace {

using gguf_internal::GgufCursor;

// Smallest possible encodings, used to cap counts by the bytes left before
// anything is allocated. A metadata entry has a key length, at least one key
// byte, a type id and at least one value byte. A tensor info has a name
// length, at least one name byte, n_dims, a type id and an offset.
constexpr uint64_t kMinEntryBytes = 8 + 1 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 4 + 8;

// Reads one value of type T: a number, a bool or a string.
template <typename T, typename Describe>
T read_one(GgufCursor& cursor, const Describe& describe) {
  if constexpr (std::is_same_v<T, std::string>) {
    return cursor.read_string(describe);
  } else if constexpr (std::is_same_v<T, bool>) {
    const uint8_t byte = cursor.read<uint8_t>(describe);
    if (byte > 1) {
      fail("{}: {} is a bool stored as byte {}; only 0 and 1 are valid",
           cursor.file(), describe(), byte);
    }
    return byte == 1;
  } else {
    return cursor.read<T>(describe);
  }
}

// Reads a scalar of type T, or an array of `count` of them, for `key`.
template <typename T>
GgufValue::Data read_values(GgufCursor& cursor, const std::string& key,
                            bool is_array, uint64_t count) {
  if (!is_array) {
    return read_one<T>(cursor,
                       [&] { return fmt::format("value of key '{}'", key); });
  }
  std::vector<T> values;
  values.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    values.push_back(read_one<T>(
        cursor, [&] { return fmt::format("element {} of key '{}'", i, key); }));
  }
  return values;
}

// Checks an array's element type and count against the format's rules and
// the bytes left, before any element is read.
void check_array_header(const GgufCursor& cursor, const std::string& key,
                        uint32_t element_id, uint64_t count) {
  if (!is_valid_gguf_value_type(element_id)) {
    fail("{}: key '{}': unknown array element type id {}", cursor.file(), key,
         element_id);
  }
  const auto element_type = static_cast<GgufValueType>(element_id);
  if (element_type == GgufValueType::kArray) {
    fail("{}: key '{}': nested arrays are not supported", cursor.file(), key);
  }
  if (count > kGgufMaxArrayLength) {
    fail("{}: key '{}': array count {} exceeds the limit of {} elements",
         cursor.file(), key, count, kGgufMaxArrayLength);
  }
  // A string element is at least its 8-byte length.
  const uint64_t min_element_bytes = element_type == GgufValueType::kString
                                         ? 8
                                         : gguf_value_type_size(element_type);
  if (count * min_element_bytes > cursor.remaining()) {
    fail(
        "{}: truncated file: key '{}' has an array of {} {} elements, "
        "which needs at least {} bytes at offset {}, but only {} remain",
        cursor.file(), key, count, gguf_value_type_name(element_type),
        count * min_element_bytes, cursor.position(), cursor.remaining());
  }
}

GgufValue read_entry(GgufCursor& cursor, uint64_t index) {
  std::string key = cursor.read_string(
      [&] { return fmt::format("key of metadata entry {}", index); });
  if (key.empty()) {
    fail("{}: metadata entry {} has an empty key", cursor.file(), index);
  }
  const auto describe_type = [&] {
    return fmt::format("value type of key '{}'", key);
  };
  const uint32_t type_id = cursor.read<uint32_t>(describe_type);
  if (!is_valid_gguf_value_type(type_id)) {
    fail("{}: key '{}': unknown value type id {}", cursor.file(), key, type_id);
  }
  auto type = static_cast<GgufValueType>(type_id);
  const bool is_array = type == GgufValueType::kArray;
  uint64_t count = 1;
  if (is_array) {
    const uint32_t element_id = cursor.read<uint32_t>(describe_type);
    count = cursor.read<uint64_t>(
        [&] { return fmt::format("array count of key '{}'", key); });
    check_array_header(cursor, key, element_id, count);
    type = static_cast<GgufValueType>(element_id);
  }

  GgufValue::Data data;
  switch (type) {
    case GgufValueType::kUint8:
      data = read_values<uint8_t>(cursor, key, is_array, count);
      break;
    case GgufValueType::kInt8:
      data = read_values<int8_t>(cursor, key, is_array, count);
      break;
    case GgufValueType::kUint16:
      data = read_values<uint16_t>(cursor, key, is_array, count);
      break;
    case GgufValueType::kInt16:
      data = read_values<int16_t>(cursor, key, is_array, count);
      break;
    case GgufValueType::kUint32:
      data = read_values<uint32_t>(cursor, key, is_array, count);
      break;
    case GgufValueType::kInt32:
      data = read_values<int32_t>(cursor, key, is_array, count);
      break;
    case GgufValueType::kFloat32:
      data = read_values<float>(cursor, key, is_array, count);
      break;
    case GgufValueType::kBool:
      data = read_values<bool>(cursor, key, is_array, count);
      break;
    case GgufValueType::kString:
      data = read_values<std::string>(cursor, key, is_array, count);
      break;
    case GgufValueType::kUint64:
      data = read_values<uint64_t>(cursor, key, is_array, count);
      break;
    case GgufValueType::kInt64:
      data = read_values<int64_t>(cursor, key, is_array, count);
      break;
    case GgufValueType::kFloat64:
      data = read_values<double>(cursor, key, is_array, count);
      break;
    case GgufValueType::kArray:
      OPTIQ_ASSERT(false);  // excluded by check_array_header
  }
  return GgufValue(std::move(key), std::move(data));
}

GgufTensorInfo read_tensor_info(GgufCursor& cursor, uint64_t index) {
  GgufTensorInfo info;
  info.name = cursor.read_string(
      [&] { return fmt::format("name of tensor {}", index); });
  if (info.name.empty()) {
    fail("{}: tensor {} has an empty name", cursor.file(), index);
  }
  if (info.name.size() > kGgufMaxTensorName) {
    fail("{}: tensor name '{}' is {} bytes long; ggml allows at most {}",
         cursor.file(), info.name, info.name.size(), kGgufMaxTensorName);
  }
  const auto describe = [&] {
    return fmt::format("info of tensor '{}'", info.name);
  };
  const uint32_t n_dims = cursor.read<uint32_t>(describe);
  if (n_dims > kGgufMaxDims) {
    fail("{}: tensor '{}' has {} dimensions; ggml allows at most {}",
         cursor.file(), info.name, n_dims, kGgufMaxDims);
  }
  for (uint32_t i = 0; i < n_dims; ++i) {
    info.ne.push_back(cursor.read<int64_t>(describe));
  }
  info.type = cursor.read<uint32_t>(describe);
  info.nbytes = gguf_tensor_nbytes(
      info.type, info.ne,
      fmt::format("{}: tensor '{}'", cursor.file(), info.name));
  info.offset = cursor.read<uint64_t>(describe);
  return info;
}

// Version check as in ggml's reader, with its reasons spelled out.
void check_version(uint32_t version, const std::string& file) {
  if (version == 0) fail("{}: invalid GGUF version 0", file);
  if ((version & 0xFFFF) == 0) {
    fail(
        "{}: GGUF version {:#010x} looks byte-swapped; big-endian GGUF "
        "files are not supported",
        file, version);
  }
  if (version == 1) {
    fail(
        "{}: GGUF version 1 is not supported (it stored counts and lengths "
        "as 32-bit values); convert the model again with a current llama.cpp",
        file);
  }
  if (version > kGgufVersion) {
    fail(
        "{}: unsupported GGUF version {}; this reader handles versions 2 "
        "and 3",
        file, version);
  }
}

uint32_t read_alignment(const GgufFile& file) {
  const GgufValue* value = file.find(kGgufAlignmentKey);
  if (value == nullptr) return kGgufDefaultAlignment;
  if (value->type() != GgufValueType::kUint32) {
    fail("{}: key '{}' must be u32, but is {}", file.path().string(),
         kGgufAlignmentKey, value->type_description());
  }
  const uint32_t alignment = std::get<uint32_t>(value->data());
  if (!std::has_single_bit(alignment)) {
    fail("{}: key '{}' = {} is not a power of two", file.path().string(),
         kGgufAlignmentKey, alignment);
  }
  return alignment;
}

}  // namespace

int64_t GgufTensorInfo::numel() const {
  int64_t count = 1;
  for (int64_t dim : ne) count *= dim;
  return count;
}

GgufFile::GgufFile(const std::filesystem::path& path) : file_(path) {
  const std::string name = path.string();
  GgufCursor cursor(file_.bytes(), name);

  const auto describe_header = [] { return std::string("header"); };
  cursor.require(4, describe_header);
  const uint8_t* magic = file_.data();
  if (!std::equal(magic, magic + 4, kGgufMagic)) {
    fail(
        "{}: not a GGUF file: the first bytes are {:02x} {:02x} {:02x} "
        "{:02x}, expected 47 47 55 46 (\"GGUF\")",
        name, magic[0], magic[1], magic[2], magic[3]);
  }
  cursor.read<uint32_t>(describe_header);
  version_ = cursor.read<uint32_t>(describe_header);
  check_version(version_, name);
  const uint64_t tensor_count = cursor.read<uint64_t>(describe_header);
  const uint64_t entry_count = cursor.read<uint64_t>(describe_header);
  if (entry_count > cursor.remaining() / kMinEntryBytes) {
    fail(
        "{}: metadata count {} cannot fit in the {} bytes left after the "
        "header",
        name, entry_count, cursor.remaining());
  }
  if (tensor_count > cursor.remaining() / kMinTensorInfoBytes) {
    fail(
        "{}: tensor count {} cannot fit in the {} bytes left after the "
        "header",
        name, tensor_count, cursor.remaining());
  }

  metadata_.reserve(static_cast<size_t>(entry_count));
  for (uint64_t i = 0; i < entry_count; ++i) {
    GgufValue value = read_entry(cursor, i);
    auto [it, inserted] = key_index_.emplace(value.key(), metadata_.size());
    if (!inserted) {
      fail("{}: duplicate metadata key '{}' (entries {} and {})", name,
           value.key(), it->second, i);
    }
    metadata_.push_back(std::move(value));
  }
  alignment_ = read_alignment(*this);

  tensors_.reserve(static_cast<size_t>(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo info = read_tensor_info(cursor, i);
    auto [it, inserted] = tensor_index_.emplace(info.name, tensors_.size());
    if (!inserted) {
      fail("{}: duplicate tensor name '{}' (tensors {} and {})", name,
           info.name, it->second, i);
    }
    tensors_.push_back(std::move(info));
  }

  // The data section starts at the header's end rounded up to the
  // alignment. ggml skips that rounding when there are no tensors, and
  // vocab-only files then end right after the header.
  const uint64_t header_end = cursor.position();
  const uint64_t size = file_.size();
  data_offset_ = header_end;
  if (!tensors_.empty()) {
    data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
    if (data_offset_ > size) {
      fail(
          "{}: truncated file: the data section starts at offset {} but the "
          "file has {} bytes",
          name, data_offset_, size);
    }
  }
  const uint64_t data_size = size - data_offset_;
  for (GgufTensorInfo& info : tensors_) {
    if (info.offset % alignment_ != 0) {
      fail("{}: tensor '{}': offset {} is not a multiple of the alignment {}",
           name, info.name, info.offset, alignment_);
    }
    if (info.offset > data_size || info.nbytes > data_size - info.offset) {
      fail(
          "{}: tensor '{}' ({} [{}]): its {} bytes at data offset {} run "
          "past the {}-byte data section (truncated file?)",
          name, info.name, gguf_tensor_type_name(info.type),
          fmt::join(info.ne, ", "), info.nbytes, info.offset, data_size);
    }
    info.data = file_.data() + data_offset_ + info.offset;
  }

  // Overlap check on the tensors sorted by offset. Empty tensors take no
  // bytes, so they cannot overlap.
  std::vector<const GgufTensorInfo*> by_offset;
  for (const GgufTensorInfo& info : tensors_) {
    if (info.nbytes > 0) by_offset.push_back(&info);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) {
              return a->offset < b->offset;
            });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& previous = *by_offset[i - 1];
    const GgufTensorInfo& current = *by_offset[i];
    if (previous.offset + previous.nbytes > current.offset) {
      fail(
          "{}: tensors '{}' (data offset {}, {} bytes) and '{}' (data offset "
          "{}) overlap",
          name, previous.name, previous.offset, previous.nbytes, current.name,
          current.offset);
    }
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second];
}

const GgufValue& GgufFile::at(std::string_view key) const {
  const GgufValue* value = find(key);
  if (value == nullptr) {
    fail("{}: metadata key '{}' not found", path().string(), key);
  }
  return *value;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(std::string_view name) const {
  const GgufTensorInfo* info = find_tensor(name);
  if (info == nullptr) {
    fail("{}: tensor '{}' not found", path().string(), name);
  }
  return *info;
}

}  // namespace optiq
