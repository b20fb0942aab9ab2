// Bit packing of affine codes into uint32 words, as MLX stores `weight`.
//
// Codes form one little-endian bit stream: code i occupies bits
// [i·bits, i·bits + bits) of the stream, and bit k of the stream is bit k%32
// of word k/32. For 2, 4 and 8 bits a word contains 16, 8 or 4 whole codes; 3-,
// 5- and 6-bit codes cross word boundaries (32 codes fill exactly `bits`
// words).
#pragma once

#include <cstdint>

namespace optiq {

// Packs `count` codes of `bits` bits (2..8) into count·bits/32 words. Code
// bits at and above `bits` are ignored. Throws optiq::Error when `bits` is
// out of range or count·bits is not a multiple of 32.
void pack_affine_codes(const uint8_t* codes, int64_t count, int bits,
                       uint32_t* words);

// Unpacks `count` codes from count·bits/32 words. `words` may be unaligned
// and is read as little-endian bytes, as a safetensors file stores it. Same
// errors as pack_affine_codes.
void unpack_affine_codes(const void* words, int64_t count, int bits,
                         uint8_t* codes);

}  // namespace optiq
