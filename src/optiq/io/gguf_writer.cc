#include "optiq/io/gguf_writer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>
#include <fstream>
#include <type_traits>
#include <utility>

#include "optiq/core/error.h"
#include "optiq/io/atomic_output.h"

namespace optiq {

namespace {

// Maximum metadata key length in bytes that docs/gguf.md allows.
constexpr size_t kMaxKeyLength = 65535;

// Appends little-endian encodings to a byte string.
class ByteSink {
 public:
  std::string& bytes() { return bytes_; }

  template <typename T>
  void put(T value) {
    if constexpr (std::is_same_v<T, bool>) {
      bytes_.push_back(value ? 1 : 0);
    } else {
      static_assert(std::is_arithmetic_v<T>);
      using Bits = std::conditional_t<
          sizeof(T) == 1, uint8_t,
          std::conditional_t<
              sizeof(T) == 2, uint16_t,
              std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
      const Bits bits = std::bit_cast<Bits>(value);
      for (size_t i = 0; i < sizeof(T); ++i) {
        bytes_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
      }
    }
  }

  void put_string(std::string_view text) {
    put<uint64_t>(text.size());
    bytes_.append(text);
  }

  void pad_to(uint64_t alignment) {
    bytes_.append((alignment - bytes_.size() % alignment) % alignment, '\0');
  }

 private:
  std::string bytes_;
};

template <typename T>
void put_element(ByteSink& sink, const T& value) {
  if constexpr (std::is_same_v<T, std::string>) {
    sink.put_string(value);
  } else {
    sink.put(value);
  }
}

void put_entry(ByteSink& sink, const GgufValue& value) {
  sink.put_string(value.key());
  sink.put<uint32_t>(static_cast<uint32_t>(value.type()));
  if (value.is_array()) {
    sink.put<uint32_t>(static_cast<uint32_t>(value.element_type()));
    sink.put<uint64_t>(value.array_size());
  }
  std::visit(
      [&sink](const auto& data) {
        using T = std::decay_t<decltype(data)>;
        if constexpr (requires { typename T::allocator_type; } &&
                      !std::is_same_v<T, std::string>) {
          for (const auto& element : data) {
            put_element<typename T::value_type>(sink, element);
          }
        } else {
          put_element(sink, data);
        }
      },
      value.data());
}

}  // namespace

void GgufWriter::set(GgufValue value) {
  const std::string& key = value.key();
  if (key.empty()) fail("GGUF metadata key is empty");
  if (key.size() > kMaxKeyLength) {
    fail("GGUF metadata key '{}...' is {} bytes long; the limit is {}",
         key.substr(0, 64), key.size(), kMaxKeyLength);
  }
  auto it = key_index_.find(key);
  if (it != key_index_.end()) {
    metadata_[it->second] = std::move(value);
    return;
  }
  key_index_.emplace(key, metadata_.size());
  metadata_.push_back(std::move(value));
}

const GgufValue* GgufWriter::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second];
}

void GgufWriter::add_tensor(std::string name, std::vector<int64_t> ne,
                            uint32_t type, std::span<const uint8_t> data) {
  if (name.empty()) fail("GGUF tensor name is empty");
  if (name.size() > kGgufMaxTensorName) {
    fail("GGUF tensor name '{}' is {} bytes long; ggml allows at most {}", name,
         name.size(), kGgufMaxTensorName);
  }
  if (tensor_index_.count(name) != 0) {
    fail("duplicate GGUF tensor name '{}'", name);
  }
  if (ne.empty() || ne.size() > kGgufMaxDims) {
    fail("GGUF tensor '{}' has {} dimensions; expected 1 to {}", name,
         ne.size(), kGgufMaxDims);
  }
  const uint64_t nbytes =
      gguf_tensor_nbytes(type, ne, fmt::format("GGUF tensor '{}'", name));
  if (data.size() != nbytes) {
    fail("GGUF tensor '{}' ({} [{}]) needs {} bytes, but {} were given", name,
         gguf_tensor_type_name(type), fmt::join(ne, ", "), nbytes, data.size());
  }
  tensor_index_.emplace(name, tensors_.size());
  tensors_.push_back({std::move(name), std::move(ne), type, data, {}});
}

void GgufWriter::add_owned_tensor(std::string name, std::vector<int64_t> ne,
                                  uint32_t type, std::vector<uint8_t> data) {
  add_tensor(std::move(name), std::move(ne), type, data);
  // Moving the vector keeps its buffer, so the span stays valid.
  tensors_.back().owned = std::move(data);
}

uint32_t GgufWriter::alignment() const {
  const GgufValue* value = find(kGgufAlignmentKey);
  if (value == nullptr) return kGgufDefaultAlignment;
  if (value->type() != GgufValueType::kUint32) {
    fail("GGUF metadata key '{}' must be u32, but is {}", kGgufAlignmentKey,
         value->type_description());
  }
  const uint32_t alignment = std::get<uint32_t>(value->data());
  if (!std::has_single_bit(alignment)) {
    fail("GGUF metadata key '{}' = {} is not a power of two", kGgufAlignmentKey,
         alignment);
  }
  return alignment;
}

std::string GgufWriter::serialize_header(uint32_t alignment) const {
  ByteSink sink;
  sink.bytes().append(kGgufMagic, sizeof(kGgufMagic));
  sink.put<uint32_t>(kGgufVersion);
  sink.put<uint64_t>(tensors_.size());
  sink.put<uint64_t>(metadata_.size());
  for (const GgufValue& value : metadata_) put_entry(sink, value);

  // Each tensor starts at the previous one's end rounded up to the
  // alignment, as write() lays the data out.
  uint64_t offset = 0;
  for (const Tensor& tensor : tensors_) {
    sink.put_string(tensor.name);
    sink.put<uint32_t>(static_cast<uint32_t>(tensor.ne.size()));
    for (int64_t dim : tensor.ne) sink.put<int64_t>(dim);
    sink.put<uint32_t>(tensor.type);
    sink.put<uint64_t>(offset);
    offset += (tensor.data.size() + alignment - 1) / alignment * alignment;
  }
  sink.pad_to(alignment);
  return std::move(sink.bytes());
}

void GgufWriter::write(const std::filesystem::path& path) const {
  const uint32_t alignment = this->alignment();
  const std::string header = serialize_header(alignment);

  AtomicOutput output(path, /*is_directory=*/false);
  std::ofstream stream(output.temporary_path(), std::ios::binary);
  if (!stream) {
    fail("cannot write GGUF file '{}': cannot open temporary file '{}'",
         path.string(), output.temporary_path().string());
  }
  stream.write(header.data(), static_cast<std::streamsize>(header.size()));
  const std::string padding(alignment, '\0');
  for (const Tensor& tensor : tensors_) {
    stream.write(reinterpret_cast<const char*>(tensor.data.data()),
                 static_cast<std::streamsize>(tensor.data.size()));
    const uint64_t pad =
        (alignment - tensor.data.size() % alignment) % alignment;
    stream.write(padding.data(), static_cast<std::streamsize>(pad));
  }
  stream.close();
  if (!stream) {
    fail("cannot write GGUF file '{}': writing temporary file '{}' failed",
         path.string(), output.temporary_path().string());
  }
  output.commit();
}

}  // namespace optiq
