// UTF-8 helpers for the tokenizer: tolerant decoding (invalid bytes pass
// through one at a time) and encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace optiq::utf8 {

// Byte length of the UTF-8 sequence at `text[pos]`: 1 to 4 for a valid,
// shortest-form sequence of a Unicode scalar value, else 1 (the invalid
// lead or stray continuation byte alone).
inline size_t sequence_length(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) {
    return static_cast<uint8_t>(text[pos + i]);
  };
  const auto is_continuation = [&](size_t i) {
    return pos + i < text.size() && (byte(i) & 0xC0) == 0x80;
  };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return is_continuation(1) ? 2 : 1;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!is_continuation(1) || !is_continuation(2)) return 1;
    // Reject overlong forms (E0 80..9F) and surrogates (ED A0..BF).
    if (lead == 0xE0 && byte(1) < 0xA0) return 1;
    if (lead == 0xED && byte(1) >= 0xA0) return 1;
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!is_continuation(1) || !is_continuation(2) || !is_continuation(3)) {
      return 1;
    }
    // Reject overlong forms (F0 80..8F) and values above U+10FFFF.
    if (lead == 0xF0 && byte(1) < 0x90) return 1;
    if (lead == 0xF4 && byte(1) >= 0x90) return 1;
    return 4;
  }
  return 1;
}

// Marks a byte that is not part of a valid sequence in decode() results.
inline constexpr uint32_t kInvalidByteFlag = 0x80000000u;

// Decodes the sequence at `text[pos]`, storing its length in `length`.
// Returns the code point, or kInvalidByteFlag | byte for an invalid byte.
inline uint32_t decode(std::string_view text, size_t pos, size_t& length) {
  length = sequence_length(text, pos);
  const auto byte = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<uint8_t>(text[pos + i]));
  };
  switch (length) {
    case 2:
      return ((byte(0) & 0x1F) << 6) | (byte(1) & 0x3F);
    case 3:
      return ((byte(0) & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) |
             (byte(2) & 0x3F);
    case 4:
      return ((byte(0) & 0x07) << 18) | ((byte(1) & 0x3F) << 12) |
             ((byte(2) & 0x3F) << 6) | (byte(3) & 0x3F);
    default:
      return byte(0) < 0x80 ? byte(0) : (kInvalidByteFlag | byte(0));
  }
}

// Appends the UTF-8 form of `code_point`, or the raw byte for a value with
// kInvalidByteFlag set.
inline void append(std::string& out, uint32_t code_point) {
  if (code_point & kInvalidByteFlag) {
    out.push_back(static_cast<char>(code_point & 0xFF));
  } else if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

}  // namespace optiq::utf8
