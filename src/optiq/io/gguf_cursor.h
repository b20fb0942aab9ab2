// Bounds-checked little-endian reading of a GGUF file's header, internal to
// the GGUF reader.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "optiq/core/error.h"
#include "optiq/io/gguf_types.h"

namespace optiq::gguf_internal {

// Reads values in sequence from `bytes`. Every read first checks the bytes
// left, so no read goes past the end. Callers pass `describe`, a callable
// returning a std::string naming what is being read ("key 'general.name'");
// it is called only to build an error message.
class GgufCursor {
 public:
  GgufCursor(std::span<const uint8_t> bytes, std::string file)
      : bytes_(bytes), file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  uint64_t position() const { return position_; }
  uint64_t remaining() const { return bytes_.size() - position_; }

  // Throws optiq::Error unless `count` more bytes are left.
  template <typename Describe>
  void require(uint64_t count, const Describe& describe) const {
    if (count > remaining()) {
      fail(
          "{}: truncated file: {} at offset {} needs {} bytes, but only {} "
          "remain",
          file_, describe(), position_, count, remaining());
    }
  }

  // Reads one little-endian integer or IEEE float of type T.
  template <typename T, typename Describe>
  T read(const Describe& describe) {
    static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>);
    require(sizeof(T), describe);
    using Bits = std::conditional_t<
        sizeof(T) == 1, uint8_t,
        std::conditional_t<
            sizeof(T) == 2, uint16_t,
            std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
    Bits bits = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      bits |= static_cast<Bits>(Bits{bytes_[position_ + i]} << (8 * i));
    }
    position_ += sizeof(T);
    return std::bit_cast<T>(bits);
  }

  // Reads a GGUF string: a u64 byte length, then the bytes.
  template <typename Describe>
  std::string read_string(const Describe& describe) {
    const uint64_t length =
        read<uint64_t>([&] { return fmt::format("length of {}", describe()); });
    if (length > kGgufMaxStringLength) {
      fail("{}: {} at offset {} has length {}, above the limit of {} bytes",
           file_, describe(), position_ - 8, length, kGgufMaxStringLength);
    }
    require(length, describe);
    std::string text(reinterpret_cast<const char*>(bytes_.data() + position_),
                     static_cast<size_t>(length));
    position_ += length;
    return text;
  }

 private:
  std::span<const uint8_t> bytes_;
  std::string file_;
  uint64_t position_ = 0;
};

}  // namespace optiq::gguf_internal
