// Type table: ids, names, block sizes, row sizes and the fallback rule.
#include <gtest/gtest.h>

#include <string>

#include "optiq/core/error.h"
#include "optiq/quant/ggml_quant.h"

namespace optiq {
namespace {

struct TypeRow {
  GgmlType type;
  uint32_t id;
  const char* name;
  int64_t block_size;
  size_t block_bytes;
};

// Ids and sizes from ggml's ggml.h and ggml-common.h (ggml v0.21.0).
const TypeRow kTable[] = {
    {GgmlType::F32, 0, "F32", 1, 4},
    {GgmlType::F16, 1, "F16", 1, 2},
    {GgmlType::Q4_0, 2, "Q4_0", 32, 18},
    {GgmlType::Q4_1, 3, "Q4_1", 32, 20},
    {GgmlType::Q5_0, 6, "Q5_0", 32, 22},
    {GgmlType::Q5_1, 7, "Q5_1", 32, 24},
    {GgmlType::Q8_0, 8, "Q8_0", 32, 34},
    {GgmlType::Q2_K, 10, "Q2_K", 256, 84},
    {GgmlType::Q3_K, 11, "Q3_K", 256, 110},
    {GgmlType::Q4_K, 12, "Q4_K", 256, 144},
    {GgmlType::Q5_K, 13, "Q5_K", 256, 176},
    {GgmlType::Q6_K, 14, "Q6_K", 256, 210},
    {GgmlType::BF16, 30, "BF16", 1, 2},
};

TEST(GgmlTypes, IdsNamesAndSizes) {
  for (const TypeRow& row : kTable) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(static_cast<uint32_t>(row.type), row.id);
    EXPECT_EQ(ggml_type_name(row.type), row.name);
    EXPECT_EQ(ggml_block_size(row.type), row.block_size);
    EXPECT_EQ(ggml_block_bytes(row.type), row.block_bytes);
    EXPECT_TRUE(is_supported_ggml_type(row.id));
  }
}

TEST(GgmlTypes, BitsPerWeight) {
  // Published bits per weight of the block types.
  EXPECT_DOUBLE_EQ(8.0 * ggml_block_bytes(GgmlType::Q2_K) / 256, 2.625);
  EXPECT_DOUBLE_EQ(8.0 * ggml_block_bytes(GgmlType::Q3_K) / 256, 3.4375);
  EXPECT_DOUBLE_EQ(8.0 * ggml_block_bytes(GgmlType::Q4_K) / 256, 4.5);
  EXPECT_DOUBLE_EQ(8.0 * ggml_block_bytes(GgmlType::Q5_K) / 256, 5.5);
  EXPECT_DOUBLE_EQ(8.0 * ggml_block_bytes(GgmlType::Q6_K) / 256, 6.5625);
  EXPECT_DOUBLE_EQ(8.0 * ggml_block_bytes(GgmlType::Q8_0) / 32, 8.5);
}

TEST(GgmlTypes, UnsupportedIds) {
  for (uint32_t id : {4u, 5u, 9u, 15u, 16u, 29u, 31u, 1000u}) {
    EXPECT_FALSE(is_supported_ggml_type(id)) << id;
  }
  EXPECT_THROW(ggml_type_name(static_cast<GgmlType>(4)), Error);
}

TEST(GgmlTypes, ParseIgnoresCase) {
  EXPECT_EQ(parse_ggml_type("Q4_K"), GgmlType::Q4_K);
  EXPECT_EQ(parse_ggml_type("q4_K"), GgmlType::Q4_K);  // ggml's spelling
  EXPECT_EQ(parse_ggml_type("q6_k"), GgmlType::Q6_K);
  EXPECT_EQ(parse_ggml_type("bf16"), GgmlType::BF16);
  EXPECT_EQ(parse_ggml_type("f32"), GgmlType::F32);
  for (const TypeRow& row : kTable) {
    EXPECT_EQ(parse_ggml_type(row.name), row.type) << row.name;
  }
}

TEST(GgmlTypes, ParseRejectsUnknownNames) {
  for (const char* name : {"", "Q4", "Q4_K_M", "IQ4_XS", "q4_k ", "F8"}) {
    EXPECT_EQ(parse_ggml_type(name), std::nullopt) << name;
  }
}

TEST(GgmlTypes, RowBytes) {
  EXPECT_EQ(ggml_row_bytes(GgmlType::F32, 7), 28u);
  EXPECT_EQ(ggml_row_bytes(GgmlType::F16, 7), 14u);
  EXPECT_EQ(ggml_row_bytes(GgmlType::BF16, 3), 6u);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q4_0, 4096), 128u * 18);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q4_1, 64), 40u);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q5_0, 96), 66u);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q5_1, 32), 24u);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q8_0, 4096), 128u * 34);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q2_K, 4096), 16u * 84);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q3_K, 4096), 16u * 110);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q4_K, 4096), 16u * 144);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q5_K, 11008), 43u * 176);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q6_K, 14336), 56u * 210);
  EXPECT_EQ(ggml_row_bytes(GgmlType::Q6_K, 0), 0u);
}

TEST(GgmlTypes, RowBytesRejectsPartialBlocks) {
  EXPECT_THROW(ggml_row_bytes(GgmlType::Q4_K, 4095), Error);
  EXPECT_THROW(ggml_row_bytes(GgmlType::Q4_K, 128), Error);
  EXPECT_THROW(ggml_row_bytes(GgmlType::Q8_0, 48), Error);
  EXPECT_THROW(ggml_row_bytes(GgmlType::F16, -1), Error);
  try {
    ggml_row_bytes(GgmlType::Q6_K, 100);
    FAIL() << "expected optiq::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("100"), std::string::npos) << message;
    EXPECT_NE(message.find("Q6_K"), std::string::npos) << message;
    EXPECT_NE(message.find("256"), std::string::npos) << message;
  }
}

TEST(GgmlTypes, FallbackKeepsDivisibleRows) {
  for (const TypeRow& row : kTable) {
    EXPECT_EQ(ggml_fallback_type(row.type, 4096), row.type) << row.name;
  }
  EXPECT_EQ(ggml_fallback_type(GgmlType::F16, 7), GgmlType::F16);
  EXPECT_EQ(ggml_fallback_type(GgmlType::BF16, 7), GgmlType::BF16);
  EXPECT_EQ(ggml_fallback_type(GgmlType::F32, 7), GgmlType::F32);
}

TEST(GgmlTypes, FallbackTable) {
  // llama.cpp src/llama-quant.cpp, tensor_type_fallback: a row of 96 is a
  // multiple of 32 but not of 256.
  EXPECT_EQ(ggml_fallback_type(GgmlType::Q2_K, 96), GgmlType::Q4_0);
  EXPECT_EQ(ggml_fallback_type(GgmlType::Q3_K, 96), GgmlType::Q4_0);
  EXPECT_EQ(ggml_fallback_type(GgmlType::Q4_K, 96), GgmlType::Q5_0);
  EXPECT_EQ(ggml_fallback_type(GgmlType::Q5_K, 96), GgmlType::Q5_1);
  EXPECT_EQ(ggml_fallback_type(GgmlType::Q6_K, 96), GgmlType::Q8_0);
  // 100 is not even a multiple of 32.
  for (GgmlType type :
       {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
        GgmlType::Q6_K, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
        GgmlType::Q5_1, GgmlType::Q8_0}) {
    EXPECT_EQ(ggml_fallback_type(type, 100), GgmlType::F16)
        << ggml_type_name(type);
  }
  EXPECT_THROW(ggml_fallback_type(GgmlType::Q4_K, -256), Error);
}

}  // namespace
}  // namespace optiq
