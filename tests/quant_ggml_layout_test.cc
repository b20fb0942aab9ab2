// Block layouts: blocks built byte by byte from the published layout
// (ggml-common.h and dequantize_row_* in ggml-quants.c, ggml v0.21.0) must
// decode to the hand-computed values, and blocks that llama.cpp itself
// wrote must decode to llama.cpp's own floats.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "optiq/core/error.h"
#include "quant_ggml_test_util.h"

namespace optiq {
namespace {

using ggml_test::from_hex;
using ggml_test::put_f16;

std::vector<float> decode(GgmlType type, const std::vector<uint8_t>& bytes,
                          int64_t n) {
  EXPECT_EQ(bytes.size(), ggml_row_bytes(type, n));
  std::vector<float> out(n);
  ggml_dequantize_row(type, bytes.data(), out.data(), n);
  return out;
}

void expect_equal(const std::vector<float>& actual,
                  const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i], expected[i]) << "element " << i;
  }
}

TEST(GgmlLayout, FloatTypes) {
  std::vector<uint8_t> f16 = {0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b};
  expect_equal(decode(GgmlType::F16, f16, 3), {1.0f, -2.0f, 65504.0f});
  std::vector<uint8_t> bf16 = {0x80, 0x3f, 0x49, 0x40};
  expect_equal(decode(GgmlType::BF16, bf16, 2), {1.0f, 3.140625f});
  std::vector<uint8_t> f32(4);
  const float value = -1.5f;
  std::memcpy(f32.data(), &value, 4);
  expect_equal(decode(GgmlType::F32, f32, 1), {-1.5f});
}

TEST(GgmlLayout, Q4_0) {
  // d = 0.5 at bytes 0-1; byte 2 + j contains q[j] (low) and q[j + 16] (high).
  std::vector<uint8_t> bytes(18);
  put_f16(bytes, 0, 0.5f);
  std::vector<float> expected(32);
  for (int j = 0; j < 32; ++j) {
    const int q = (5 * j + 3) % 16;
    bytes[2 + j % 16] |= static_cast<uint8_t>(q << (j < 16 ? 0 : 4));
    expected[j] = static_cast<float>(q - 8) * 0.5f;
  }
  expect_equal(decode(GgmlType::Q4_0, bytes, 32), expected);
}

TEST(GgmlLayout, Q4_1) {
  std::vector<uint8_t> bytes(20);
  put_f16(bytes, 0, 0.25f);  // d
  put_f16(bytes, 2, -1.5f);  // m
  std::vector<float> expected(32);
  for (int j = 0; j < 32; ++j) {
    const int q = (7 * j + 2) % 16;
    bytes[4 + j % 16] |= static_cast<uint8_t>(q << (j < 16 ? 0 : 4));
    expected[j] = static_cast<float>(q) * 0.25f - 1.5f;
  }
  expect_equal(decode(GgmlType::Q4_1, bytes, 32), expected);
}

TEST(GgmlLayout, Q5_0) {
  // d, then the 32-bit little-endian mask of fifth bits, then nibbles.
  std::vector<uint8_t> bytes(22);
  put_f16(bytes, 0, 0.125f);
  std::vector<float> expected(32);
  for (int j = 0; j < 32; ++j) {
    const int q = (7 * j + 1) % 32;
    bytes[6 + j % 16] |= static_cast<uint8_t>((q & 15) << (j < 16 ? 0 : 4));
    if (q & 16) bytes[2 + j / 8] |= static_cast<uint8_t>(1 << (j % 8));
    expected[j] = static_cast<float>(q - 16) * 0.125f;
  }
  expect_equal(decode(GgmlType::Q5_0, bytes, 32), expected);
}

TEST(GgmlLayout, Q5_1) {
  std::vector<uint8_t> bytes(24);
  put_f16(bytes, 0, 0.0625f);  // d
  put_f16(bytes, 2, 0.5f);     // m
  std::vector<float> expected(32);
  for (int j = 0; j < 32; ++j) {
    const int q = (11 * j + 5) % 32;
    bytes[8 + j % 16] |= static_cast<uint8_t>((q & 15) << (j < 16 ? 0 : 4));
    if (q & 16) bytes[4 + j / 8] |= static_cast<uint8_t>(1 << (j % 8));
    expected[j] = static_cast<float>(q) * 0.0625f + 0.5f;
  }
  expect_equal(decode(GgmlType::Q5_1, bytes, 32), expected);
}

TEST(GgmlLayout, Q8_0) {
  std::vector<uint8_t> bytes(34);
  put_f16(bytes, 0, 0.03125f);
  std::vector<float> expected(32);
  for (int j = 0; j < 32; ++j) {
    const int q = -128 + 8 * j;  // -128 .. 120
    bytes[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
    expected[j] = static_cast<float>(q) * 0.03125f;
  }
  expect_equal(decode(GgmlType::Q8_0, bytes, 32), expected);
}

TEST(GgmlLayout, Q2_K) {
  // scales[16] (scale low nibble, min high nibble), qs[64], d, dmin.
  std::vector<uint8_t> bytes(84);
  const float d = 0.5f;
  const float dmin = 0.25f;
  put_f16(bytes, 80, d);
  put_f16(bytes, 82, dmin);
  std::vector<float> expected(256);
  for (int j = 0; j < 16; ++j)
    bytes[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  for (int e = 0; e < 256; ++e) {
    const int j = e / 16;
    const int q = (3 * e + 1) % 4;
    // Element e of half h = e / 128 sits in qs[32 h + e % 32] at bit
    // 2 * ((e % 128) / 32).
    bytes[16 + 32 * (e / 128) + e % 32] |=
        static_cast<uint8_t>(q << (2 * ((e % 128) / 32)));
    expected[e] = d * static_cast<float>(j) * static_cast<float>(q) -
                  dmin * static_cast<float>(15 - j);
  }
  expect_equal(decode(GgmlType::Q2_K, bytes, 256), expected);
}

TEST(GgmlLayout, Q3_K) {
  // hmask[32], qs[64], scales[12], d. Six-bit codes s_j: low 4 bits in
  // nibble j / 8 of scales[j % 8], high 2 bits at bit 2 (j / 4) of
  // scales[8 + j % 4]; the scale is s_j - 32.
  std::vector<uint8_t> bytes(110);
  const float d = 0.25f;
  put_f16(bytes, 108, d);
  int code[16];
  for (int j = 0; j < 16; ++j) {
    code[j] = (13 * j + 5) % 64;
    bytes[96 + j % 8] |= static_cast<uint8_t>((code[j] & 15) << (4 * (j / 8)));
    bytes[96 + 8 + j % 4] |=
        static_cast<uint8_t>((code[j] >> 4) << (2 * (j / 4)));
  }
  std::vector<float> expected(256);
  for (int e = 0; e < 256; ++e) {
    const int q = (5 * e + 2) % 8 - 4;  // -4 .. 3
    const int stored = q + 4;
    // Bit 2 of the stored level goes to hmask[e % 32] bit e / 32, the low
    // two bits into qs as in Q2_K.
    if (stored & 4) bytes[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
    bytes[32 + 32 * (e / 128) + e % 32] |=
        static_cast<uint8_t>((stored & 3) << (2 * ((e % 128) / 32)));
    expected[e] =
        d * static_cast<float>(code[e / 16] - 32) * static_cast<float>(q);
  }
  expect_equal(decode(GgmlType::Q3_K, bytes, 256), expected);
}

// Scale and min codes for the Q4_K/Q5_K tests: 6-bit values, several with
// the top bits set so that the split packing is exercised.
const int kScaleCodes[8] = {1, 2, 3, 63, 17, 33, 48, 5};
const int kMinCodes[8] = {0, 1, 62, 3, 4, 31, 32, 7};

// Packs the 12-byte scales field: sub-blocks j < 4 use the low 6 bits of
// bytes j (scale) and j + 4 (min); sub-blocks j >= 4 keep their low 4 bits
// in byte j + 4 (scale low nibble, min high nibble) and their top 2 bits in
// bits 6-7 of bytes j - 4 (scale) and j (min).
void pack_k4_scales(uint8_t* scales) {
  for (int j = 0; j < 8; ++j) {
    const int sc = kScaleCodes[j];
    const int m = kMinCodes[j];
    if (j < 4) {
      scales[j] |= static_cast<uint8_t>(sc);
      scales[j + 4] |= static_cast<uint8_t>(m);
    } else {
      scales[j + 4] |= static_cast<uint8_t>((sc & 15) | ((m & 15) << 4));
      scales[j - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
      scales[j] |= static_cast<uint8_t>((m >> 4) << 6);
    }
  }
}

TEST(GgmlLayout, Q4_K) {
  // d, dmin, scales[12], qs[128].
  std::vector<uint8_t> bytes(144);
  const float d = 0.5f;
  const float dmin = 0.25f;
  put_f16(bytes, 0, d);
  put_f16(bytes, 2, dmin);
  pack_k4_scales(bytes.data() + 4);
  std::vector<float> expected(256);
  for (int e = 0; e < 256; ++e) {
    const int q = (7 * e + 3) % 16;
    // Elements 64 g + i (i < 32) are the low nibbles of qs[32 g + i],
    // elements 64 g + 32 + i the high nibbles.
    const int g = e / 64;
    const int i = e % 32;
    bytes[16 + 32 * g + i] |=
        static_cast<uint8_t>(q << ((e % 64) < 32 ? 0 : 4));
    const int j = e / 32;
    expected[e] =
        d * static_cast<float>(kScaleCodes[j]) * static_cast<float>(q) -
        dmin * static_cast<float>(kMinCodes[j]);
  }
  expect_equal(decode(GgmlType::Q4_K, bytes, 256), expected);
}

TEST(GgmlLayout, Q5_K) {
  // d, dmin, scales[12], qh[32], qs[128]; element 64 g + i has its fifth
  // bit at bit 2 g of qh[i], element 64 g + 32 + i at bit 2 g + 1.
  std::vector<uint8_t> bytes(176);
  const float d = 0.125f;
  const float dmin = 0.5f;
  put_f16(bytes, 0, d);
  put_f16(bytes, 2, dmin);
  pack_k4_scales(bytes.data() + 4);
  std::vector<float> expected(256);
  for (int e = 0; e < 256; ++e) {
    const int q = (11 * e + 7) % 32;
    const int g = e / 64;
    const int i = e % 32;
    const bool upper = (e % 64) >= 32;
    bytes[48 + 32 * g + i] |= static_cast<uint8_t>((q & 15) << (upper ? 4 : 0));
    if (q & 16)
      bytes[16 + i] |= static_cast<uint8_t>(1 << (2 * g + (upper ? 1 : 0)));
    const int j = e / 32;
    expected[e] =
        d * static_cast<float>(kScaleCodes[j]) * static_cast<float>(q) -
        dmin * static_cast<float>(kMinCodes[j]);
  }
  expect_equal(decode(GgmlType::Q5_K, bytes, 256), expected);
}

TEST(GgmlLayout, Q6_K) {
  // ql[128], qh[64], int8 scales[16], d. In half h, element 32 k + i has
  // its low nibble in ql[64 h + 32 (k % 2) + i] (low for k < 2, high
  // otherwise) and its top two bits at bit 2 k of qh[32 h + i].
  std::vector<uint8_t> bytes(210);
  const float d = 0.0625f;
  put_f16(bytes, 208, d);
  const int scales[16] = {-128, 127, -1, 1,  64, -64, 100, -100,
                          3,    5,   7,  11, 13, -17, 19,  0};
  for (int j = 0; j < 16; ++j) {
    bytes[192 + j] = static_cast<uint8_t>(static_cast<int8_t>(scales[j]));
  }
  std::vector<float> expected(256);
  for (int e = 0; e < 256; ++e) {
    const int stored = (29 * e + 11) % 64;
    const int h = e / 128;
    const int k = (e % 128) / 32;
    const int i = e % 32;
    bytes[64 * h + 32 * (k % 2) + i] |=
        static_cast<uint8_t>((stored & 15) << (k < 2 ? 0 : 4));
    bytes[128 + 32 * h + i] |= static_cast<uint8_t>((stored >> 4) << (2 * k));
    expected[e] = d * static_cast<float>(scales[e / 16]) *
                  static_cast<float>(stored - 32);
  }
  expect_equal(decode(GgmlType::Q6_K, bytes, 256), expected);
}

// A block that llama.cpp wrote for the first inputs of
// ggml_test::gaussian(1, 4096), using ggml v0.21.0 (commit d99724f2)
// quantize_row_*_ref built from source. `hash` is the FNV-1a 64 hash of
// the bits of the floats that ggml's dequantize_row_* decoded from it, and
// `first` and `second` are its first two values.
struct LlamaBlock {
  GgmlType type;
  const char* hex;
  uint64_t hash;
  float first;
  float second;
};

const LlamaBlock kLlamaBlocks[] = {
    {GgmlType::Q4_0, "01b578bb69a8184c5a58377d9bcb0c89b6a4",
     0xcf9a4b5ac88acee0ull, -0x0p+0f, -0x1.e06p-1f},
    {GgmlType::Q4_1, "4b3418be76228546d6a19495b7705213f165284a",
     0xe139e6291dd09da2ull, 0x1.62p-4f, -0x1.f94p-1f},
    {GgmlType::Q5_0, "01b1e73e0aece057c14f3f98b3b06dda277508026c39",
     0xa41f571934cb3954ull, -0x0p+0f, -0x1.1838p+0f},
    {GgmlType::Q5_1, "283018be00c0f411fc541a7cbd52282b7ff0a435f2ba5184",
     0x5203fe00c5ef5df8ull, 0x1.2p-5f, -0x1.01p+0f},
    {GgmlType::Q8_0,
     "0b25ffcaf40405c0e6fc16b3cad6c1f4213913d421e2673a2b2a4d18f3c77ffed4e5",
     0x8accafdb04632a77ull, -0x1.42cp-6f, -0x1.1052p+0f},
    {GgmlType::Q2_K,
     "876a8846ddcc5fcab9bbcfaafdca89da522831e6262025465614506168156a6f6964ed"
     "dcaf926e6a9a4955a4bfd920e4996f3456d77a97a68ba6105b0ae12965c17e9985a1ea"
     "a059b6c899873daa9791ed2efa30",
     0x8f5b56f36c8bc8ccull, 0x1.156p-2f, -0x1.3e8p+0f},
    {GgmlType::Q3_K,
     "0d5ae8f13bd8387d175ca49c9a6cc3c39463b89dd8eed030ccb4bd8b78eda39b043583"
     "3c70357f3cc10ce906351ffaffcfe5e7a52116b7fb0abb1c3644dc69b1f6c3f0047679"
     "a7d1daacf82fc40eca4fd8af311c14d713b82fcb750c3c476076ec1bae044c2f30f2e2"
     "d042bde427",
     0x7e4b999f047fb6d4ull, 0x0p+0f, -0x1.1c1p+0f},
    {GgmlType::Q4_K,
     "071eb028afe5f1bfacecf1ece829f10626a2056676216456775032139155b8da9763c8"
     "d4ed5ad9b9abb88562cfa6437456390ff739392950864573576844787827398a734955"
     "1838462044486d940988b4ee60363b994c699b78207db703a36627b96546177a00874a"
     "80755ea7795f1497992f87e66fb49a92cc168430f93958f33c76728bea8a368ce0a670"
     "0d98a5a6",
     0x19965aca0ab7e1c3ull, 0x1.8dbp-5f, -0x1.0edb8p+0f},
    {GgmlType::Q5_K,
     "2c1aab28abe1afbfa9ecf3b0e543fff4a0f6448c967494d0b8f000b026c0674782740f"
     "02c7f1c727d3a2a21467fa948c3b530adc0c52d8bbffb0732532ca80d44ee5b1c7ebb4"
     "c272678f2ae3af5b95f7bc731fe0637243a10d9ce6afc288e1f05e6414f793ab31719c"
     "508990cc29030188fdd07d67539ae25701500c9e0766fc5f83daad3f04002ea5100bae"
     "6e13bf283d223e0fcbbf772524882c1860e261a1f568edf406c4046d09c03cf10b313a"
     "4d",
     0x32c89b13d613afbdull, -0x1.1dc8p-4f, -0x1.1b408p+0f},
    {GgmlType::Q6_K,
     "2f6a1bc27276665e1931daef879badb7db2b18d7465185852dca839e10a03b77e84ac1"
     "1a503b7af56d169ef5c527a0781766c846e02db57ff30dbb15b8f50194a24ca1dc61c9"
     "f68790f4800a0f4f2e1ab0f8ab93b0658e92051e87324327409e9cc0cff94bb216bea2"
     "dafdd96a1560ccedcec2ea078900cf1a8d79eb086b7d76619881169a90957566a46050"
     "58a55e5f555ad1e250a911516471669a80e61eda5163f4591bb64b664726d857c12ce4"
     "a5c22d5a46a2e9a31ab5cb9a443ea9949231b234d5aebe803536c9a63b494bcf371a14",
     0xdd0339ad6db11423ull, -0x1.91f4p-5f, -0x1.1457cp+0f},
};

uint64_t fnv1a_of_bits(const std::vector<float>& values) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (float v : values) {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int k = 0; k < 4; ++k) {
      hash ^= (bits >> (8 * k)) & 0xff;
      hash *= 0x100000001b3ull;
    }
  }
  return hash;
}

TEST(GgmlLayout, DecodesLlamaCppBlocksBitExactly) {
  for (const LlamaBlock& golden : kLlamaBlocks) {
    SCOPED_TRACE(ggml_type_name(golden.type));
    const std::vector<uint8_t> bytes = from_hex(golden.hex);
    const int64_t n = ggml_block_size(golden.type);
    ASSERT_EQ(bytes.size(), ggml_block_bytes(golden.type));
    const std::vector<float> values = decode(golden.type, bytes, n);
    EXPECT_EQ(values[0], golden.first);
    EXPECT_EQ(std::signbit(values[0]), std::signbit(golden.first));
    EXPECT_EQ(values[1], golden.second);
    EXPECT_EQ(fnv1a_of_bits(values), golden.hash);
    // The block encodes the first inputs of the row it came from.
    const std::vector<float> x = ggml_test::gaussian(1, static_cast<int>(n));
    EXPECT_LT(ggml_test::relative_rmse(x, values), 0.35);
  }
}

TEST(GgmlLayout, DequantizeRejectsPartialBlocks) {
  std::vector<uint8_t> bytes(210);
  std::vector<float> out(256);
  EXPECT_THROW(
      ggml_dequantize_row(GgmlType::Q6_K, bytes.data(), out.data(), 200),
      Error);
  EXPECT_THROW(
      ggml_dequantize_row(GgmlType::Q4_0, bytes.data(), out.data(), 31), Error);
}

}  // namespace
}  // namespace optiq
