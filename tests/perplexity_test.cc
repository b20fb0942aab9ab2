#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "test_support.h"

namespace optiq {
namespace {

// Reference: 56.5563 from an independent PyTorch implementation and from
// llama.cpp's llama-perplexity -c 256 on an F32 conversion of the same
// weights (1,091 chunks, 138,557 scored tokens).
TEST(Perplexity, BenchModelMatchesReference) {
  OPTIQ_REQUIRE_SHARED("models/optiq-bench-kdocs/model.safetensors");
  auto result = testing::run_optiq(fmt::format(
      "-q eval perplexity {} --text {} --ctx 256 --json",
      testing::shared_path("models/optiq-bench-kdocs").string(),
      testing::shared_path("data/kernel-docs/test.txt").string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["sequences"].get<int64_t>(), 1091);
  EXPECT_EQ(json["tokens_scored"].get<int64_t>(), 138557);
  EXPECT_NEAR(json["perplexity"].get<double>(), 56.5563, 56.5563 * 0.005);
  EXPECT_NEAR(json["std_error"].get<double>(), 0.4203, 0.02);
  EXPECT_GT(json["bits_per_byte"].get<double>(), 0.5);
  EXPECT_LT(json["bits_per_byte"].get<double>(), 3.0);
}

TEST(Perplexity, TooLittleTextIsAnError) {
  OPTIQ_REQUIRE_SHARED("models/optiq-bench-kdocs/model.safetensors");
  testing::ScratchDir dir;
  std::ofstream(dir / "short.txt") << "Only a few words here.";
  auto result = testing::run_optiq(fmt::format("eval perplexity {} --text {} --ctx 256",
                                               testing::shared_path("models/optiq-bench-kdocs").string(),
                                               (dir / "short.txt").string()));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("needs at least 2 x ctx = 512"), std::string::npos) << result.err;
  EXPECT_EQ(result.out.find("nan"), std::string::npos);
}

TEST(Perplexity, DocumentsProtocolScoresEveryDocument) {
  OPTIQ_REQUIRE_SHARED("models/stories260K/stories260K.bin");
  auto result = testing::run_optiq(fmt::format(
      "-q eval perplexity {} --tokenizer {} --text {} --protocol documents --separator '<|endoftext|>' "
      "--max-tokens 64 --ctx 256 --json",
      testing::shared_path("models/stories260K/stories260K.bin").string(),
      testing::shared_path("models/stories260K/tok512.bin").string(),
      testing::shared_path("data/tinystories/TinyStoriesV2-GPT4-valid_first100.txt").string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["protocol"], "documents");
  EXPECT_GT(json["sequences"].get<int64_t>(), 50);
  EXPECT_LE(json["tokens_scored"].get<int64_t>(), json["sequences"].get<int64_t>() * 64);
  // stories260K is a weak model; its perplexity on TinyStories is small but above 1.
  EXPECT_GT(json["perplexity"].get<double>(), 1.5);
  EXPECT_LT(json["perplexity"].get<double>(), 30.0);
}

}  // namespace
}  // namespace optiq
