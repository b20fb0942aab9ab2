// Profiling over ggml types: fallbacks priced as llama.cpp writes them, the
// embedding always planned, F32 norms in the fixed bytes, recipe baselines,
// recipe-sized budgets, and batching that leaves every number unchanged.
#include <gtest/gtest.h>

#include <algorithm>

#include "checkpoint_writer.h"
#include "optiq/core/error.h"
#include "optiq/plan/planner.h"
#include "optiq/profile/memory.h"
#include "optiq/profile/profiler.h"
#include "test_support.h"

namespace optiq {
namespace {

using testing::CheckpointSpec;

// 2 layers, hidden 256 (every k-quant applies) and intermediate 320, so
// down_proj rows of 320 take llama.cpp's fallbacks.
CheckpointSpec small_spec() {
  CheckpointSpec spec;
  spec.hidden = 256;
  spec.intermediate = 320;
  spec.n_layers = 2;
  spec.n_heads = 4;
  spec.n_kv_heads = 2;
  spec.vocab = 96;
  spec.dtype = DType::BF16;
  return spec;
}

CalibrationSet calibration(int64_t sequences, int64_t seq_len, int64_t vocab) {
  CalibrationSet set;
  set.seq_len = seq_len;
  uint32_t state = 12345;
  for (int64_t s = 0; s < sequences; ++s) {
    std::vector<int32_t> tokens;
    for (int64_t t = 0; t < seq_len; ++t) {
      state = state * 1664525u + 1013904223u;
      tokens.push_back(static_cast<int32_t>((state >> 8) % vocab));
    }
    set.sequences.push_back(tokens);
  }
  set.requested_samples = sequences;
  set.text_tokens = sequences * seq_len;
  return set;
}

std::vector<QuantFormat> types(std::initializer_list<GgmlType> list) {
  std::vector<QuantFormat> formats;
  for (GgmlType t : list) formats.push_back(QuantFormat::ggml_format(t));
  return formats;
}

// One profile shared by the tests (profiling is the slow part).
class GgufProfileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new testing::ScratchDir();
    testing::write_checkpoint(scratch_->path(), small_spec());
    model_ = new Model(load_model(scratch_->path()));
    options_ = new ProfileOptions();
    options_->formats = types({GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                               GgmlType::Q6_K, GgmlType::Q8_0});
    options_->export_format = ExportFormat::kGguf;
    document_ = new ProfileDocument();
    document_->result = run_profile(*model_, calibration(3, 12, 96), *options_);
    document_->info.metrics = {"kl", "mse"};
  }
  static void TearDownTestSuite() {
    delete document_;
    delete options_;
    delete model_;
    delete scratch_;
  }

  static const TensorProfile& tensor(const std::string& module) {
    for (const TensorProfile& t : document_->result.tensors) {
      if (t.target.module == module) return t;
    }
    ADD_FAILURE() << "no tensor " << module;
    return document_->result.tensors.front();
  }

  static testing::ScratchDir* scratch_;
  static Model* model_;
  static ProfileOptions* options_;
  static ProfileDocument* document_;
};

testing::ScratchDir* GgufProfileTest::scratch_ = nullptr;
Model* GgufProfileTest::model_ = nullptr;
ProfileOptions* GgufProfileTest::options_ = nullptr;
ProfileDocument* GgufProfileTest::document_ = nullptr;

TEST_F(GgufProfileTest, PricesFallbacksAsLlamaCppWritesThem) {
  const TensorProfile& down = tensor("model.layers.0.mlp.down_proj");
  EXPECT_EQ(down.fallbacks, (std::vector<std::string>{"Q2_K->Q4_0", "Q3_K->Q4_0", "Q4_K->Q5_0",
                                                      "Q5_K->Q5_1", "Q6_K->Q8_0"}));
  std::vector<std::string> names;
  for (const Measurement& m : down.candidates) names.push_back(m.format.name());
  EXPECT_EQ(names, (std::vector<std::string>{"f16", "Q4_0", "Q5_0", "Q5_1", "Q8_0"}));
  for (const Measurement& m : down.candidates) {
    // Bytes per row of 320 values: Q4_0 10 blocks of 18, Q5_0 of 22, Q5_1
    // of 24, Q8_0 of 34, F16 640.
    const uint64_t per_row = m.format.name() == "Q4_0"   ? 180
                             : m.format.name() == "Q5_0" ? 220
                             : m.format.name() == "Q5_1" ? 240
                             : m.format.name() == "Q8_0" ? 340
                                                         : 640;
    EXPECT_EQ(m.bytes, 256 * per_row) << m.format.name();
  }
  const TensorProfile& up = tensor("model.layers.0.mlp.up_proj");
  EXPECT_TRUE(up.fallbacks.empty());
  EXPECT_EQ(up.candidates.size(), 7u);
  // Q2_K: 84 bytes per 256 values.
  EXPECT_EQ(up.candidates[1].format.name(), "Q2_K");
  EXPECT_EQ(up.candidates[1].bytes, 320u * 84u);
}

TEST_F(GgufProfileTest, PlansTheEmbeddingAndCountsNormsAsF32) {
  const ProfileResult& r = document_->result;
  EXPECT_EQ(r.export_format, ExportFormat::kGguf);
  EXPECT_EQ(r.tensors.back().target.module, "model.embed_tokens");
  EXPECT_EQ(r.tensors.size(), 2u * 7 + 2);
  // Two norms per layer and the final norm, 256 F32 values each.
  EXPECT_EQ(r.fixed_bytes, 5u * 256 * 4);
  EXPECT_EQ(r.output_dtype, DType::F16);
}

TEST_F(GgufProfileTest, DamageFallsWithBits) {
  for (const TensorProfile& t : document_->result.tensors) {
    for (size_t j = 2; j < t.candidates.size(); ++j) {
      EXPECT_LT(t.candidates[j].kl, t.candidates[j - 1].kl)
          << t.target.module << " " << t.candidates[j].format.name();
      EXPECT_GT(t.candidates[j].bytes, t.candidates[j - 1].bytes);
    }
  }
}

TEST_F(GgufProfileTest, RecipePlanFollowsTheRecipeAndItsFallbacks) {
  Plan recipe = make_recipe_plan(*document_, LlamaCppRecipe::kQ4_K_M, "kl");
  std::map<std::string, std::string> chosen;
  for (const PlanEntry& e : recipe.entries) chosen[e.target.module] = e.format.name();
  // 2 layers: use_more_bits(i, 2) holds for layer 1 (i >= 7*2/8 = 1).
  EXPECT_EQ(chosen["model.layers.0.self_attn.v_proj"], "Q4_K");
  EXPECT_EQ(chosen["model.layers.1.self_attn.v_proj"], "Q6_K");
  EXPECT_EQ(chosen["model.layers.0.mlp.down_proj"], "Q5_0");  // Q4_K falls back
  EXPECT_EQ(chosen["model.layers.1.mlp.down_proj"], "Q8_0");  // Q6_K falls back
  EXPECT_EQ(chosen["lm_head"], "Q6_K");
  EXPECT_EQ(chosen["model.embed_tokens"], "Q4_K");
  EXPECT_EQ(chosen["model.layers.1.mlp.gate_proj"], "Q4_K");
  uint64_t bytes = recipe.fixed_bytes;
  for (const PlanEntry& e : recipe.entries) bytes += e.bytes;
  EXPECT_EQ(recipe.total_bytes, bytes);
}

TEST_F(GgufProfileTest, PlanBeatsRecipeAtItsSize) {
  for (LlamaCppRecipe recipe : llama_cpp_recipes()) {
    Plan baseline = make_recipe_plan(*document_, recipe, "kl");
    PlanRequest request;
    request.budget = std::string(recipe_name(recipe));
    Plan plan = make_plan(*document_, request);
    EXPECT_EQ(plan.budget_bytes, baseline.total_bytes);
    EXPECT_LE(plan.total_bytes, baseline.total_bytes);
    EXPECT_LE(plan.predicted_damage, baseline.predicted_damage) << recipe_name(recipe);
    EXPECT_EQ(plan.export_format, ExportFormat::kGguf);
  }
}

TEST_F(GgufProfileTest, RecipesNeedAGgufProfile) {
  ProfileDocument mlx = *document_;
  mlx.result.export_format = ExportFormat::kMlx;
  EXPECT_THROW(make_recipe_plan(mlx, LlamaCppRecipe::kQ4_K_M, "kl"), Error);
}

TEST_F(GgufProfileTest, BatchesGiveTheSameNumbers) {
  ProfileOptions batched = *options_;
  batched.batch = 1;
  ProfileResult r = run_profile(*model_, calibration(3, 12, 96), batched);
  EXPECT_EQ(r.timing.batches, 3);
  ASSERT_EQ(r.tensors.size(), document_->result.tensors.size());
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    const auto& a = r.tensors[i].candidates;
    const auto& b = document_->result.tensors[i].candidates;
    ASSERT_EQ(a.size(), b.size());
    for (size_t j = 0; j < a.size(); ++j) {
      EXPECT_EQ(a[j].kl, b[j].kl) << r.tensors[i].target.module;
      EXPECT_EQ(a[j].mse, b[j].mse) << r.tensors[i].target.module;
    }
  }
  EXPECT_EQ(r.importance, document_->result.importance);
}

TEST(ProfileMemory, LimitLowersTheBatchOrRefuses) {
  testing::ScratchDir scratch;
  testing::write_checkpoint(scratch.path(), small_spec());
  Model model = load_model(scratch.path());
  const MemoryEstimate all = profile_memory(model, 8, 64);
  const MemoryEstimate one = profile_memory(model, 1, 64);
  // Hidden states: (layers + 1) x 64 tokens x 256 floats per sequence, plus
  // 64 x 96 log-probs.
  EXPECT_EQ(all.cached_states - one.cached_states, 7u * (3 * 64 * 256 + 64 * 96) * 4);
  EXPECT_EQ(fit_profile_memory(model, 8, 64, 0).batch, 8);
  EXPECT_EQ(fit_profile_memory(model, 8, 64, all.total()).batch, 8);
  EXPECT_EQ(fit_profile_memory(model, 8, 64, all.total() - 1).batch, 7);
  EXPECT_EQ(fit_profile_memory(model, 8, 64, one.total()).batch, 1);
  try {
    fit_profile_memory(model, 8, 64, one.total() - 1);
    ADD_FAILURE() << "no error below one sequence";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--max-memory"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace optiq
