#include <gtest/gtest.h>

#include <cmath>

#include "optiq/core/parallel.h"
#include "optiq/model/forward.h"
#include "test_support.h"

namespace optiq {
namespace {

constexpr const char* kBench = "models/optiq-bench-kdocs";

std::vector<float> logits_of(const Model& model, const std::vector<int32_t>& tokens) {
  Transformer transformer(model);
  KVCache cache(model.config, static_cast<int64_t>(tokens.size()));
  std::vector<float> logits;
  transformer.forward(tokens, cache, logits);
  return logits;
}

TEST(Forward, BitIdenticalAcrossThreadCounts) {
  OPTIQ_REQUIRE_SHARED(kBench);
  Model model = load_model(testing::shared_path(kBench));
  std::vector<int32_t> tokens;
  for (int i = 0; i < 96; ++i) tokens.push_back(1 + (i * 37) % 4000);
  set_thread_count(1);
  std::vector<float> one = logits_of(model, tokens);
  set_thread_count(2);
  std::vector<float> two = logits_of(model, tokens);
  set_thread_count(3);
  std::vector<float> three = logits_of(model, tokens);
  set_thread_count(0);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_TRUE(one == two) << "logits differ between 1 and 2 threads";
  EXPECT_TRUE(one == three) << "logits differ between 1 and 3 threads";
}

TEST(Forward, IncrementalDecodingMatchesBatch) {
  OPTIQ_REQUIRE_SHARED(kBench);
  Model model = load_model(testing::shared_path(kBench));
  std::vector<int32_t> tokens = {1, 360, 471, 3967, 1010, 304, 263, 1312};
  std::vector<float> batch = logits_of(model, tokens);
  Transformer transformer(model);
  KVCache cache(model.config, 8);
  std::vector<float> step;
  const int64_t vocab = model.config.vocab;
  for (size_t t = 0; t < tokens.size(); ++t) {
    transformer.forward(std::span<const int32_t>(&tokens[t], 1), cache, step);
    double max_diff = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      max_diff = std::max<double>(max_diff, std::abs(step[i] - batch[t * vocab + i]));
    }
    EXPECT_LT(max_diff, 1e-3) << "position " << t;
  }
}

}  // namespace
}  // namespace optiq
