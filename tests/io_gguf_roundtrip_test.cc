// GgufWriter output read back with GgufFile, and one tiny file checked
// byte for byte against a layout worked out by hand from docs/gguf.md.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "optiq/core/error.h"
#include "optiq/io/gguf_file.h"
#include "optiq/io/gguf_writer.h"
#include "test_support.h"

namespace optiq {
namespace {

namespace tt = gguf_tensor_type;

std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
  const std::string text = testing::read_text(path);
  return std::vector<uint8_t>(text.begin(), text.end());
}

std::vector<uint8_t> pattern(size_t count, uint8_t seed) {
  std::vector<uint8_t> bytes(count);
  for (size_t i = 0; i < count; ++i) {
    bytes[i] = static_cast<uint8_t>(seed + 7 * i);
  }
  return bytes;
}

TEST(GgufRoundTrip, TinyFileBytes) {
  testing::ScratchDir dir;
  GgufWriter writer;
  writer.set_uint8("a", 7);
  const float element = 1.0f;
  writer.add_tensor(
      "t", {1}, tt::kF32,
      {reinterpret_cast<const uint8_t*>(&element), sizeof(element)});
  writer.write(dir / "tiny.gguf");

  // Hand-computed: 24-byte header, 14-byte entry, 33-byte tensor info, zero
  // padding from 71 to 96 (the default alignment is 32), the 4 data bytes,
  // and zero padding from 100 to 128.
  // clang-format off
  std::vector<uint8_t> expected = {
      'G', 'G', 'U', 'F', 3, 0, 0, 0,  // magic, version 3
      1,   0,   0,   0,   0, 0, 0, 0,  // tensor count
      1,   0,   0,   0,   0, 0, 0, 0,  // metadata count
      1,   0,   0,   0,   0, 0, 0, 0,   'a',  // key length, key
      0,   0,   0,   0,   7,                    // type u8, value
      1,   0,   0,   0,   0, 0, 0, 0,   't',  // name length, name
      1,   0,   0,   0,                         // n_dims
      1,   0,   0,   0,   0, 0, 0, 0,           // ne[0]
      0,   0,   0,   0,                         // type f32
      0,   0,   0,   0,   0, 0, 0, 0,           // offset
  };
  // clang-format on
  ASSERT_EQ(expected.size(), 71u);
  expected.resize(96, 0);
  for (uint8_t byte : {0x00, 0x00, 0x80, 0x3f}) expected.push_back(byte);
  expected.resize(128, 0);
  EXPECT_EQ(read_bytes(dir / "tiny.gguf"), expected);

  GgufFile file(dir / "tiny.gguf");
  EXPECT_EQ(file.data_offset(), 96u);
  const GgufTensorInfo& tensor = file.tensor("t");
  EXPECT_EQ(tensor.nbytes, 4u);
  float value = 0;
  std::memcpy(&value, tensor.data, sizeof(value));
  EXPECT_EQ(value, 1.0f);
}

TEST(GgufRoundTrip, EveryValueType) {
  testing::ScratchDir dir;
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  GgufWriter writer;
  writer.set_uint8("v.u8", 255);
  writer.set_int8("v.i8", -128);
  writer.set_uint16("v.u16", 65535);
  writer.set_int16("v.i16", -32768);
  writer.set_uint32("v.u32", 4'000'000'000u);
  writer.set_int32("v.i32", -2'000'000'000);
  writer.set_float32("v.f32", -0.15625f);
  writer.set_bool("v.bool", true);
  writer.set_string("v.str", std::string("h\xc3\xa9llo\0x", 8));
  writer.set_uint64("v.u64", std::numeric_limits<uint64_t>::max());
  writer.set_int64("v.i64", std::numeric_limits<int64_t>::min());
  writer.set_float64("v.f64", kNaN);
  writer.set({"a.u8", std::vector<uint8_t>{0, 1, 255}});
  writer.set({"a.i8", std::vector<int8_t>{-1, 2}});
  writer.set({"a.u16", std::vector<uint16_t>{7, 65535}});
  writer.set({"a.i16", std::vector<int16_t>{-7, 300}});
  writer.set_uint32_array("a.u32", {1, 2, 3});
  writer.set_int32_array("a.i32", {-1, 0, 1});
  writer.set_float32_array("a.f32", {0.5f, -2.0f});
  writer.set({"a.bool", std::vector<bool>{true, false, true}});
  writer.set_string_array("a.str", {"", "x", "\xe2\x96\x81y"});
  writer.set({"a.u64", std::vector<uint64_t>{1ull << 63}});
  writer.set({"a.i64", std::vector<int64_t>{-(1ll << 40)}});
  writer.set({"a.f64", std::vector<double>{1e300, -0.25}});
  writer.set_string_array("a.empty", {});
  writer.write(dir / "values.gguf");

  GgufFile file(dir / "values.gguf");
  using Type = GgufValueType;
  const std::pair<const char*, Type> scalar_types[] = {
      {"v.u8", Type::kUint8},    {"v.i8", Type::kInt8},
      {"v.u16", Type::kUint16},  {"v.i16", Type::kInt16},
      {"v.u32", Type::kUint32},  {"v.i32", Type::kInt32},
      {"v.f32", Type::kFloat32}, {"v.bool", Type::kBool},
      {"v.str", Type::kString},  {"v.u64", Type::kUint64},
      {"v.i64", Type::kInt64},   {"v.f64", Type::kFloat64},
  };
  const std::pair<const char*, Type> element_types[] = {
      {"a.u8", Type::kUint8},    {"a.i8", Type::kInt8},
      {"a.u16", Type::kUint16},  {"a.i16", Type::kInt16},
      {"a.u32", Type::kUint32},  {"a.i32", Type::kInt32},
      {"a.f32", Type::kFloat32}, {"a.bool", Type::kBool},
      {"a.str", Type::kString},  {"a.u64", Type::kUint64},
      {"a.i64", Type::kInt64},   {"a.f64", Type::kFloat64},
  };
  ASSERT_EQ(file.metadata().size(), 25u);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(file.metadata()[i].key(), scalar_types[i].first);
    EXPECT_EQ(file.metadata()[i].type(), scalar_types[i].second);
    EXPECT_EQ(file.metadata()[12 + i].key(), element_types[i].first);
    EXPECT_EQ(file.metadata()[12 + i].type(), Type::kArray);
    EXPECT_EQ(file.metadata()[12 + i].element_type(), element_types[i].second);
  }
  EXPECT_EQ(file.at("v.u8").as_uint64(), 255u);
  EXPECT_EQ(file.at("v.i8").as_int64(), -128);
  EXPECT_EQ(file.at("v.u16").as_uint64(), 65535u);
  EXPECT_EQ(file.at("v.i16").as_int64(), -32768);
  EXPECT_EQ(file.at("v.u32").as_uint64(), 4'000'000'000u);
  EXPECT_EQ(file.at("v.i32").as_int64(), -2'000'000'000);
  EXPECT_EQ(file.at("v.f32").as_float(), -0.15625);
  EXPECT_EQ(file.at("v.f32").type(), GgufValueType::kFloat32);
  EXPECT_TRUE(file.at("v.bool").as_bool());
  EXPECT_EQ(file.at("v.str").as_string(), std::string("h\xc3\xa9llo\0x", 8));
  EXPECT_EQ(file.at("v.u64").as_uint64(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(file.at("v.i64").as_int64(), std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(std::isnan(file.at("v.f64").as_float()));
  EXPECT_EQ(file.at("v.f64").type(), GgufValueType::kFloat64);

  EXPECT_EQ(file.at("a.u8").as_int_array(), (std::vector<int64_t>{0, 1, 255}));
  EXPECT_EQ(file.at("a.i8").as_int_array(), (std::vector<int64_t>{-1, 2}));
  EXPECT_EQ(file.at("a.u16").as_int_array(), (std::vector<int64_t>{7, 65535}));
  EXPECT_EQ(file.at("a.i16").as_int_array(), (std::vector<int64_t>{-7, 300}));
  EXPECT_EQ(file.at("a.u32").as_int_array(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(file.at("a.i32").as_int_array(), (std::vector<int64_t>{-1, 0, 1}));
  EXPECT_EQ(file.at("a.f32").as_float_array(),
            (std::vector<float>{0.5f, -2.0f}));
  EXPECT_EQ(std::get<std::vector<bool>>(file.at("a.bool").data()),
            (std::vector<bool>{true, false, true}));
  EXPECT_EQ(file.at("a.str").as_string_array(),
            (std::vector<std::string>{"", "x", "\xe2\x96\x81y"}));
  EXPECT_EQ(std::get<std::vector<uint64_t>>(file.at("a.u64").data()),
            (std::vector<uint64_t>{1ull << 63}));
  EXPECT_EQ(file.at("a.i64").as_int_array(),
            (std::vector<int64_t>{-(1ll << 40)}));
  EXPECT_EQ(
      file.at("a.f64").as_float_array(),
      (std::vector<float>{std::numeric_limits<float>::infinity(), -0.25f}));
  EXPECT_EQ(file.at("a.empty").element_type(), GgufValueType::kString);
  EXPECT_EQ(file.at("a.empty").array_size(), 0u);
  EXPECT_EQ(file.at("a.str").type_description(), "arr[str,3]");
}

TEST(GgufRoundTrip, AccessorsRejectMismatches) {
  GgufValue big("big", uint64_t{1} << 63);
  EXPECT_THROW(big.as_int64(), Error);
  EXPECT_EQ(big.as_uint64(), uint64_t{1} << 63);
  GgufValue negative("negative", int32_t{-1});
  EXPECT_THROW(negative.as_uint64(), Error);
  EXPECT_EQ(negative.as_int64(), -1);
  GgufValue text("text", std::string("x"));
  EXPECT_THROW(text.as_int64(), Error);
  EXPECT_THROW(text.as_float(), Error);
  EXPECT_THROW(text.as_bool(), Error);
  EXPECT_THROW(text.as_string_array(), Error);
  EXPECT_THROW(text.array_size(), Error);
  GgufValue floats("floats", std::vector<float>{1.0f});
  EXPECT_THROW(floats.as_int_array(), Error);
  EXPECT_THROW(floats.as_string(), Error);
  GgufValue big_array("big_array", std::vector<uint64_t>{uint64_t{1} << 63});
  EXPECT_THROW(big_array.as_int_array(), Error);
  try {
    GgufValue("tokenizer.ggml.model", uint32_t{3}).as_string();
    FAIL() << "as_string on a u32 did not throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'tokenizer.ggml.model'"),
              std::string::npos)
        << error.what();
  }
}

TEST(GgufRoundTrip, TensorsAtCustomAlignment) {
  testing::ScratchDir dir;
  GgufWriter writer;
  writer.set_string("general.architecture", "llama");
  writer.set_uint32("general.alignment", 64);
  const std::vector<uint8_t> f32 = pattern(3 * 2 * 4, 1);
  const std::vector<uint8_t> q4_0 = pattern(2 * 18, 2);
  const std::vector<uint8_t> q6_k = pattern(2 * 210, 3);
  const std::vector<uint8_t> bf16 = pattern(5 * 2, 4);
  writer.add_tensor("f32", {3, 2}, tt::kF32, f32);
  writer.add_owned_tensor("q4_0", {32, 2}, tt::kQ4_0, q4_0);
  writer.add_tensor("q6_K", {256, 1, 2}, tt::kQ6_K, q6_k);
  writer.add_tensor("bf16", {5}, tt::kBF16, bf16);
  writer.add_tensor("empty", {0, 4}, tt::kF16, {});
  EXPECT_EQ(writer.tensor_count(), 5u);
  writer.write(dir / "tensors.gguf");

  GgufFile file(dir / "tensors.gguf");
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.data_offset() % 64, 0u);
  ASSERT_EQ(file.tensors().size(), 5u);
  const std::vector<uint8_t> bytes = read_bytes(dir / "tensors.gguf");
  const std::vector<const std::vector<uint8_t>*> contents = {&f32, &q4_0, &q6_k,
                                                             &bf16};
  uint64_t expected_offset = 0;
  for (size_t i = 0; i < contents.size(); ++i) {
    const GgufTensorInfo& info = file.tensors()[i];
    SCOPED_TRACE(info.name);
    EXPECT_EQ(info.offset, expected_offset);
    EXPECT_EQ(info.nbytes, contents[i]->size());
    EXPECT_EQ(std::vector<uint8_t>(info.data, info.data + info.nbytes),
              *contents[i]);
    // Padding after each tensor is zero up to the next multiple of 64.
    const uint64_t end = file.data_offset() + info.offset + info.nbytes;
    for (uint64_t at = end; at % 64 != 0; ++at) EXPECT_EQ(bytes[at], 0);
    expected_offset += (info.nbytes + 63) / 64 * 64;
  }
  EXPECT_EQ(file.tensor("q6_K").ne, (std::vector<int64_t>{256, 1, 2}));
  EXPECT_EQ(file.tensor("q6_K").type, tt::kQ6_K);
  EXPECT_EQ(file.tensor("q4_0").numel(), 64);
  EXPECT_EQ(file.tensor("empty").nbytes, 0u);
  EXPECT_EQ(file.tensor("empty").numel(), 0);
  EXPECT_EQ(file.find_tensor("missing"), nullptr);
  EXPECT_THROW(file.tensor("missing"), Error);
  EXPECT_EQ(bytes.size(), file.data_offset() + expected_offset);
}

TEST(GgufRoundTrip, SetReplacesInPlace) {
  testing::ScratchDir dir;
  GgufWriter writer;
  writer.set_uint32("first", 1);
  writer.set_string("second", "x");
  writer.set_float32("first", 2.5f);
  writer.write(dir / "replace.gguf");
  GgufFile file(dir / "replace.gguf");
  ASSERT_EQ(file.metadata().size(), 2u);
  EXPECT_EQ(file.metadata()[0].key(), "first");
  EXPECT_EQ(file.metadata()[0].as_float(), 2.5);
  EXPECT_EQ(file.metadata()[1].key(), "second");
}

TEST(GgufRoundTrip, WriterRejectsBadInput) {
  GgufWriter writer;
  const std::vector<uint8_t> four(4);
  EXPECT_THROW(writer.set_uint32("", 1), Error);
  EXPECT_THROW(writer.add_tensor("", {1}, tt::kF32, four), Error);
  EXPECT_THROW(writer.add_tensor(std::string(64, 'x'), {1}, tt::kF32, four),
               Error);
  EXPECT_THROW(writer.add_tensor("t", {}, tt::kF32, four), Error);
  EXPECT_THROW(writer.add_tensor("t", {1, 1, 1, 1, 1}, tt::kF32, four), Error);
  EXPECT_THROW(writer.add_tensor("t", {2}, tt::kF32, four), Error);
  EXPECT_THROW(writer.add_tensor("t", {-1}, tt::kF32, four), Error);
  EXPECT_THROW(writer.add_tensor("t", {16}, tt::kQ4_0, four), Error);
  EXPECT_THROW(writer.add_tensor("t", {1}, 4, four), Error);
  writer.add_tensor(std::string(63, 'x'), {1}, tt::kF32, four);
  writer.add_tensor("t", {1}, tt::kF32, four);
  EXPECT_THROW(writer.add_tensor("t", {1}, tt::kF32, four), Error);

  testing::ScratchDir dir;
  writer.set_uint32("general.alignment", 48);
  EXPECT_THROW(writer.write(dir / "bad.gguf"), Error);
  writer.set_uint64("general.alignment", 64);
  EXPECT_THROW(writer.write(dir / "bad.gguf"), Error);
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.gguf"));
  writer.set_uint32("general.alignment", 8);
  writer.write(dir / "good.gguf");
  EXPECT_EQ(GgufFile(dir / "good.gguf").data_offset() % 8, 0u);
}

TEST(GgufRoundTrip, AcceptsVersion2AndNoTensors) {
  testing::ScratchDir dir;
  GgufWriter writer;
  writer.set_string("general.architecture", "llama");
  writer.write(dir / "v3.gguf");
  std::vector<uint8_t> bytes = read_bytes(dir / "v3.gguf");
  // ggml's writer pads the header even without tensors.
  EXPECT_EQ(bytes.size() % 32, 0u);
  bytes[4] = 2;
  {
    std::ofstream stream(dir / "v2.gguf", std::ios::binary);
    stream.write(reinterpret_cast<const char*>(bytes.data()),
                 static_cast<std::streamsize>(bytes.size()));
  }
  GgufFile file(dir / "v2.gguf");
  EXPECT_EQ(file.version(), 2u);
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_EQ(file.at("general.architecture").as_string(), "llama");
}

TEST(GgufTypes, BlockLayouts) {
  // Block sizes and bytes from ggml-common.h's block structs.
  struct Expected {
    uint32_t id;
    const char* name;
    int64_t block_size;
    uint64_t block_bytes;
    bool dequantizable;
  };
  const Expected table[] = {
      {0, "f32", 1, 4, true},          {1, "f16", 1, 2, true},
      {30, "bf16", 1, 2, true},        {2, "q4_0", 32, 18, true},
      {3, "q4_1", 32, 20, true},       {6, "q5_0", 32, 22, true},
      {7, "q5_1", 32, 24, true},       {8, "q8_0", 32, 34, true},
      {10, "q2_K", 256, 84, true},     {11, "q3_K", 256, 110, true},
      {12, "q4_K", 256, 144, true},    {13, "q5_K", 256, 176, true},
      {14, "q6_K", 256, 210, true},    {15, "q8_K", 256, 292, false},
      {23, "iq4_xs", 256, 136, false},
  };
  for (const Expected& expected : table) {
    const GgufTensorTypeInfo* info = find_gguf_tensor_type(expected.id);
    ASSERT_NE(info, nullptr) << expected.name;
    EXPECT_EQ(info->name, expected.name);
    EXPECT_EQ(info->block_size, expected.block_size) << expected.name;
    EXPECT_EQ(info->block_bytes, expected.block_bytes) << expected.name;
    EXPECT_EQ(info->dequantizable, expected.dequantizable) << expected.name;
    EXPECT_EQ(find_gguf_tensor_type(expected.name), info);
  }
  for (uint32_t removed : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 43u}) {
    EXPECT_EQ(find_gguf_tensor_type(removed), nullptr) << removed;
  }
  EXPECT_EQ(gguf_tensor_type_name(77), "unknown type 77");
  // A 4096 x 4096 Q4_K matrix: 16 blocks per row of 144 bytes.
  const int64_t ne[] = {4096, 4096};
  EXPECT_EQ(gguf_tensor_nbytes(tt::kQ4_K, ne, "w"), 4096u * 16 * 144);
}

}  // namespace
}  // namespace optiq
