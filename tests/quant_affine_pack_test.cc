// Bit packing of affine codes against hand-computed uint32 words: code i
// occupies bits [i·bits, i·bits + bits) of a little-endian stream.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "optiq/core/error.h"
#include "optiq/quant/affine_pack.h"

namespace optiq {
namespace {

std::vector<uint32_t> pack(const std::vector<uint8_t>& codes, int bits) {
  std::vector<uint32_t> words(codes.size() * bits / 32);
  pack_affine_codes(codes.data(), static_cast<int64_t>(codes.size()), bits,
                    words.data());
  return words;
}

std::vector<uint8_t> unpack(const std::vector<uint32_t>& words, int bits) {
  std::vector<uint8_t> codes(words.size() * 32 / bits);
  unpack_affine_codes(words.data(), static_cast<int64_t>(codes.size()), bits,
                      codes.data());
  return codes;
}

TEST(AffinePack, TwoBits) {
  // Codes 1,2,3,0 | 3,3,3,3 | 0,0,0,0 | 1,0,0,0 at bits 0,2,4,...:
  // 0x1 + 0x8 + 0x30 = 0x39, 0xff00, 1 << 24.
  const std::vector<uint8_t> codes = {1, 2, 3, 0, 3, 3, 3, 3,
                                      0, 0, 0, 0, 1, 0, 0, 0};
  EXPECT_EQ(pack(codes, 2), (std::vector<uint32_t>{0x0100ff39u}));
  EXPECT_EQ(unpack({0x0100ff39u}, 2), codes);
}

TEST(AffinePack, FourBits) {
  const std::vector<uint8_t> codes = {1,  2, 3, 4, 5, 6, 7, 8,
                                      15, 0, 0, 0, 0, 0, 0, 10};
  EXPECT_EQ(pack(codes, 4), (std::vector<uint32_t>{0x87654321u, 0xa000000fu}));
  EXPECT_EQ(unpack({0x87654321u, 0xa000000fu}, 4), codes);
}

TEST(AffinePack, EightBits) {
  const std::vector<uint8_t> codes = {0x12, 0x34, 0x56, 0x78};
  EXPECT_EQ(pack(codes, 8), (std::vector<uint32_t>{0x78563412u}));
  EXPECT_EQ(unpack({0x78563412u}, 8), codes);
}

TEST(AffinePack, ThreeBitsCrossWords) {
  // 32 codes fill 3 words. Code 10 = 0b101 sits at stream bits 30..32:
  // bit 30 of word 0 and bit 0 of word 1. Code 21 = 0b011 sits at bits
  // 63..65: bit 31 of word 1 and bit 0 of word 2. Code 31 = 0b100 sits at
  // bits 93..95, so its set bit is bit 31 of word 2.
  std::vector<uint8_t> codes(32, 0);
  codes[10] = 5;
  codes[21] = 3;
  codes[31] = 4;
  const std::vector<uint32_t> words = {0x40000000u, 0x80000001u, 0x80000001u};
  EXPECT_EQ(pack(codes, 3), words);
  EXPECT_EQ(unpack(words, 3), codes);

  std::vector<uint8_t> all_ones(32, 7);
  EXPECT_EQ(pack(all_ones, 3),
            (std::vector<uint32_t>{0xffffffffu, 0xffffffffu, 0xffffffffu}));
}

TEST(AffinePack, FiveBitsCrossWords) {
  // 32 codes fill 5 words. Code 6 = 0b10011 at bits 30..34: bits 30, 31 of
  // word 0 and bit 2 of word 1. Code 12 = 0b11111 at bits 60..64: bits
  // 28..31 of word 1 and bit 0 of word 2. Code 31 = 0b10000 at bits
  // 155..159: bit 31 of word 4.
  std::vector<uint8_t> codes(32, 0);
  codes[6] = 19;
  codes[12] = 31;
  codes[31] = 16;
  const std::vector<uint32_t> words = {0xc0000000u, 0xf0000004u, 0x00000001u,
                                       0x00000000u, 0x80000000u};
  EXPECT_EQ(pack(codes, 5), words);
  EXPECT_EQ(unpack(words, 5), codes);
}

TEST(AffinePack, SixBitsCrossWords) {
  // 16 codes fill 3 words. Code 5 = 0b100110 at bits 30..35: bit 31 of word
  // 0 and bits 0 and 3 of word 1. Code 10 = 0b111111 at bits 60..65: bits
  // 28..31 of word 1 and bits 0, 1 of word 2. Code 15 = 1 at bit 90: bit 26
  // of word 2.
  std::vector<uint8_t> codes(16, 0);
  codes[5] = 38;
  codes[10] = 63;
  codes[15] = 1;
  const std::vector<uint32_t> words = {0x80000000u, 0xf0000009u, 0x04000003u};
  EXPECT_EQ(pack(codes, 6), words);
  EXPECT_EQ(unpack(words, 6), codes);
}

TEST(AffinePack, HighCodeBitsIgnored) {
  const std::vector<uint8_t> codes = {0xf1, 0xf2, 0xf3, 0xf4,
                                      0xf5, 0xf6, 0xf7, 0xf8};
  EXPECT_EQ(pack(codes, 4), (std::vector<uint32_t>{0x87654321u}));
}

TEST(AffinePack, RandomRoundTrip) {
  std::mt19937 rng(7);
  for (int bits = 2; bits <= 8; ++bits) {
    std::vector<uint8_t> codes(32 * 9);
    for (auto& code : codes) code = static_cast<uint8_t>(rng() >> (32 - bits));
    EXPECT_EQ(unpack(pack(codes, bits), bits), codes) << bits << " bits";
  }
}

TEST(AffinePack, UnpacksUnalignedBytes) {
  // Words at an odd byte offset, as they can sit in a mapped file.
  const std::vector<uint32_t> words = {0x80000000u, 0xf0000009u, 0x04000003u};
  std::vector<uint8_t> buffer(1 + words.size() * 4);
  std::memcpy(buffer.data() + 1, words.data(), words.size() * 4);
  std::vector<uint8_t> codes(16);
  unpack_affine_codes(buffer.data() + 1, 16, 6, codes.data());
  EXPECT_EQ(codes, unpack(words, 6));
}

TEST(AffinePack, RejectsPartialWords) {
  std::vector<uint8_t> codes(10);
  std::vector<uint32_t> words(4);
  EXPECT_THROW(pack_affine_codes(codes.data(), 10, 3, words.data()), Error);
  EXPECT_THROW(unpack_affine_codes(words.data(), 10, 4, codes.data()), Error);
  EXPECT_THROW(pack_affine_codes(codes.data(), 8, 1, words.data()), Error);
  EXPECT_THROW(pack_affine_codes(codes.data(), 8, 9, words.data()), Error);
}

}  // namespace
}  // namespace optiq
