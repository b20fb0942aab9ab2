// GPT-2's reversible map between bytes and printable characters, used by
// Hugging Face's ByteLevel pre-tokenizer and decoder. The printable bytes
// 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF map to the code point of the same
// value. The other 68 bytes map, in increasing order, to U+0100 up to
// U+0143, so a space (0x20) becomes 'Ġ' (U+0120) and '\n' becomes 'Ċ'
// (U+010A).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace optiq {

// Appends the stand-in character of every byte of `bytes` to `out`.
void byte_level_encode(std::string_view bytes, std::string& out);

// Appends the bytes that the stand-in characters of `text` denote to `out`.
// Returns false, with `out` unchanged, when `text` has a character that is
// no stand-in.
bool byte_level_decode(std::string_view text, std::string& out);

}  // namespace optiq
