#include <gtest/gtest.h>

#include <fstream>

#include "optiq/core/error.h"
#include "optiq/model/model.h"
#include "optiq/tokenizer/llama2c_tokenizer.h"
#include "test_support.h"

namespace optiq {
namespace {

constexpr const char* kModel = "models/stories260K/stories260K.bin";

std::string error_of(const std::filesystem::path& path) {
  try {
    load_llama2c_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(Llama2cLoader, ReadsStories260KHeader) {
  OPTIQ_REQUIRE_SHARED(kModel);
  Model model = load_llama2c_model(testing::shared_path(kModel));
  EXPECT_EQ(model.config.hidden, 64);
  EXPECT_EQ(model.config.intermediate, 172);
  EXPECT_EQ(model.config.n_layers, 5);
  EXPECT_EQ(model.config.n_heads, 8);
  EXPECT_EQ(model.config.n_kv_heads, 4);
  EXPECT_EQ(model.config.vocab, 512);
  EXPECT_TRUE(model.config.tied_embeddings);
  EXPECT_EQ(model.config.rope_layout, RopeLayout::kInterleaved);
}

TEST(Llama2cLoader, RejectsNewerExportVersion) {
  OPTIQ_REQUIRE_SHARED("models/stories260K/stories260K_q80.bin");
  std::string message = error_of(testing::shared_path("models/stories260K/stories260K_q80.bin"));
  EXPECT_NE(message.find("unsupported llama2.c export version 2"), std::string::npos) << message;
}

TEST(Llama2cLoader, RejectsTruncatedFile) {
  OPTIQ_REQUIRE_SHARED(kModel);
  std::string bytes = testing::read_text(testing::shared_path(kModel));
  testing::ScratchDir dir;
  write_bytes(dir / "short.bin", bytes.substr(0, bytes.size() - 4));
  std::string message = error_of(dir / "short.bin");
  EXPECT_NE(message.find("implies 1056540 bytes"), std::string::npos) << message;
  write_bytes(dir / "tiny.bin", bytes.substr(0, 10));
  EXPECT_NE(error_of(dir / "tiny.bin").find("too short"), std::string::npos);
}

TEST(Llama2cLoader, RejectsInvalidHeader) {
  testing::ScratchDir dir;
  int32_t header[7] = {64, 172, 5, 7, 4, 512, 512};  // 7 heads do not divide 4 kv heads
  write_bytes(dir / "heads.bin", std::string(reinterpret_cast<char*>(header), sizeof header));
  EXPECT_NE(error_of(dir / "heads.bin").find("not a multiple of num_key_value_heads"), std::string::npos);
  int32_t negative[7] = {64, -172, 5, 8, 4, 512, 512};
  write_bytes(dir / "negative.bin", std::string(reinterpret_cast<char*>(negative), sizeof negative));
  EXPECT_NE(error_of(dir / "negative.bin").find("invalid intermediate_size -172"), std::string::npos);
  int32_t huge[7] = {1 << 24, 1 << 24, 1 << 24, 1 << 12, 1 << 12, 1 << 24, 1 << 24};
  write_bytes(dir / "huge.bin", std::string(reinterpret_cast<char*>(huge), sizeof huge));
  EXPECT_FALSE(error_of(dir / "huge.bin").empty());
}

TEST(Llama2cTokenizer, EncodesLikeLlama2c) {
  OPTIQ_REQUIRE_SHARED("models/stories260K/tok512.bin");
  Llama2cTokenizer tokenizer(testing::shared_path("models/stories260K/tok512.bin"));
  EXPECT_EQ(tokenizer.vocab_size(), 512);
  // From the published greedy ids: "Once"=403, " upon"=407, " a"=261, " time"=378, ","=432.
  std::vector<int32_t> ids = tokenizer.encode("Once upon a time,");
  EXPECT_EQ(ids, (std::vector<int32_t>{403, 407, 261, 378, 432}));
  std::vector<int32_t> with_bos = {1, 403, 407, 261, 378, 432};
  EXPECT_EQ(tokenizer.decode(with_bos), "Once upon a time,");
}

TEST(Llama2cTokenizer, RejectsTruncatedFile) {
  OPTIQ_REQUIRE_SHARED("models/stories260K/tok512.bin");
  std::string bytes = testing::read_text(testing::shared_path("models/stories260K/tok512.bin"));
  testing::ScratchDir dir;
  write_bytes(dir / "tok.bin", bytes.substr(0, bytes.size() - 3));
  EXPECT_THROW(Llama2cTokenizer(dir / "tok.bin"), Error);
}

}  // namespace
}  // namespace optiq
