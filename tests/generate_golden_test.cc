// Greedy generation must match llama2.c's published output for stories260K,
// both from the llama2.c checkpoint and from its converted Hugging Face form.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <iterator>
#include <sstream>

#include "test_support.h"

namespace optiq {
namespace {

constexpr const char* kModel = "models/stories260K/stories260K.bin";
constexpr const char* kTokenizer = "models/stories260K/tok512.bin";
constexpr const char* kExpectedText = "models/stories260K/expected_greedy_t0_n200.txt";
constexpr const char* kExpectedIds = "models/stories260K/expected_greedy_t0_n200.ids.txt";

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

TEST(GenerateGolden, Llama2cCheckpointText) {
  OPTIQ_REQUIRE_SHARED(kModel);
  auto result = testing::run_optiq(fmt::format("generate {} --tokenizer {} --temperature 0 --steps 200",
                                               testing::shared_path(kModel).string(),
                                               testing::shared_path(kTokenizer).string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, testing::read_text(testing::shared_path(kExpectedText)));
}

TEST(GenerateGolden, Llama2cCheckpointIds) {
  OPTIQ_REQUIRE_SHARED(kModel);
  auto result = testing::run_optiq(
      fmt::format("generate {} --tokenizer {} --temperature 0 --steps 200 --print-ids",
                  testing::shared_path(kModel).string(), testing::shared_path(kTokenizer).string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(trim(result.out), trim(testing::read_text(testing::shared_path(kExpectedIds))));
}

TEST(GenerateGolden, ConvertedHuggingFaceFolder) {
  OPTIQ_REQUIRE_SHARED(kModel);
  testing::ScratchDir dir;
  std::string converted = (dir / "stories260K-hf").string();
  auto convert = testing::run_optiq(fmt::format("convert {} --tokenizer {} -o {}",
                                                testing::shared_path(kModel).string(),
                                                testing::shared_path(kTokenizer).string(), converted));
  ASSERT_EQ(convert.exit_code, 0) << convert.err;
  // The HF path runs RoPE on halves, so this only matches when convert
  // permuted the q and k rows correctly.
  auto ids = testing::run_optiq(
      fmt::format("generate {} --temperature 0 --steps 200 --print-ids", converted));
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_EQ(trim(ids.out), trim(testing::read_text(testing::shared_path(kExpectedIds))));
  auto text = testing::run_optiq(fmt::format("generate {} --temperature 0 --steps 200", converted));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, testing::read_text(testing::shared_path(kExpectedText)));
}

TEST(GenerateGolden, BenchModelGreedyContinuation) {
  OPTIQ_REQUIRE_SHARED("models/optiq-bench-kdocs/ref_greedy_ids.txt");
  // Reference from an independent PyTorch implementation: BOS, the prompt
  // "The kernel", then 64 greedy tokens.
  std::istringstream stream(
      testing::read_text(testing::shared_path("models/optiq-bench-kdocs/ref_greedy_ids.txt")));
  std::vector<std::string> ids{std::istream_iterator<std::string>(stream), {}};
  ASSERT_GT(ids.size(), 64u);
  std::string expected;
  for (size_t i = ids.size() - 64; i < ids.size(); ++i) {
    expected += (expected.empty() ? "" : " ") + ids[i];
  }
  // One forward pass covers the whole prompt, so the 64 tokens need
  // (ids - 64) + 63 passes.
  std::string model = testing::shared_path("models/optiq-bench-kdocs").string();
  auto result = testing::run_optiq(fmt::format(
      "generate {} --prompt 'The kernel' --temperature 0 --steps {} --print-ids", model,
      ids.size() - 1));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(trim(result.out), expected);
}

}  // namespace
}  // namespace optiq
