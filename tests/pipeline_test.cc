// profile -> plan -> quantize -> load -> evaluate on the real stories260K
// model, with small calibration settings so the suite stays fast.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "optiq/core/error.h"
#include "optiq/core/parallel.h"
#include "optiq/export/apply_plan.h"
#include "optiq/io/safetensors.h"
#include "optiq/model/forward.h"
#include "optiq/plan/planner.h"
#include "test_support.h"

namespace optiq {
namespace {

constexpr const char* kModel = "models/stories260K/stories260K.bin";
constexpr const char* kTokenizer = "models/stories260K/tok512.bin";
constexpr const char* kCalib = "data/tinystories/TinyStories-train_first2MiB.txt";

std::string model_args() {
  return fmt::format("{} --tokenizer {}", testing::shared_path(kModel).string(),
                     testing::shared_path(kTokenizer).string());
}

std::string profile_args() {
  return fmt::format("--calib {} --samples 4 --seq-len 128 --bits 2,4,8 --group-size 32,64",
                     testing::shared_path(kCalib).string());
}

// One profile shared by the tests of this file.
class Pipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(testing::shared_path(kModel))) return;
    scratch_ = new testing::ScratchDir();
    profile_ = (*scratch_ / "profile.json").string();
    auto result = testing::run_optiq(fmt::format("-q profile {} {} -o {}", model_args(), profile_args(), profile_));
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }
  static void TearDownTestSuite() { delete scratch_; }
  void SetUp() override { OPTIQ_REQUIRE_SHARED(kModel); }

  static testing::ScratchDir* scratch_;
  static std::string profile_;
};

testing::ScratchDir* Pipeline::scratch_ = nullptr;
std::string Pipeline::profile_;

TEST_F(Pipeline, ProfileRecordsEveryTensorAndFormat) {
  ProfileDocument profile = read_profile(profile_);
  // 5 layers x 7 projections + the tied embedding/head.
  ASSERT_EQ(profile.result.tensors.size(), 36u);
  for (const TensorProfile& t : profile.result.tensors) {
    if (t.target.module.ends_with("down_proj")) {
      // 172 inputs: no group size of 32 or 64 divides it.
      EXPECT_EQ(t.candidates.size(), 1u) << t.target.module;
      EXPECT_EQ(t.skipped.size(), 6u) << t.target.module;
      continue;
    }
    ASSERT_EQ(t.candidates.size(), 7u) << t.target.module;  // f16 + 6 affine formats
    for (const Measurement& m : t.candidates) {
      EXPECT_EQ(m.bytes, m.format.bytes(t.target.rows, t.target.cols, DType::F16));
      EXPECT_GE(m.kl, 0.0);
    }
    // Damage falls as bits rise at a fixed group size.
    auto kl = [&](const char* name) {
      for (const Measurement& m : t.candidates) {
        if (m.format.name() == name) return m.kl;
      }
      return -1.0;
    };
    EXPECT_GT(kl("a2g64"), kl("a4g64")) << t.target.module;
    EXPECT_GT(kl("a4g64"), kl("a8g64")) << t.target.module;
  }
  EXPECT_EQ(profile.info.samples, 4);
  EXPECT_EQ(profile.info.seq_len, 128);
  EXPECT_EQ(profile.result.importance.count("model.layers.0.mlp.down_proj"), 1u);
}

TEST_F(Pipeline, PlanRespectsBudgetAndDamageFallsWithSize) {
  ProfileDocument profile = read_profile(profile_);
  double previous = INFINITY;
  for (const char* budget : {"280KB", "305KB", "380KB"}) {
    Plan plan = make_plan(profile, {budget, "kl", {}});
    uint64_t limit = static_cast<uint64_t>(std::stoi(budget)) * 1000;
    EXPECT_LE(plan.total_bytes, limit) << budget;
    EXPECT_TRUE(plan.proven_optimal) << budget;
    EXPECT_LE(plan.lower_bound, plan.predicted_damage + 1e-12) << budget;
    EXPECT_LT(plan.predicted_damage, previous) << budget;
    previous = plan.predicted_damage;
  }
}

TEST_F(Pipeline, InfeasibleBudgetNamesTheRange) {
  testing::ScratchDir dir;
  auto result = testing::run_optiq(
      fmt::format("plan {} --budget 10KB -o {}", profile_, (dir / "plan.json").string()));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("cannot be met: the smallest achievable size is"), std::string::npos)
      << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "plan.json"));
}

TEST_F(Pipeline, KeepRuleHoldsMatchingTensors) {
  ProfileDocument profile = read_profile(profile_);
  Plan plan = make_plan(profile, {"380KB", "kl", {"model\\.layers\\.0\\.self_attn\\..*=a8g32"}});
  for (const PlanEntry& e : plan.entries) {
    if (e.target.module.rfind("model.layers.0.self_attn.", 0) == 0) {
      EXPECT_EQ(e.format.name(), "a8g32") << e.target.module;
      EXPECT_TRUE(e.kept);
    }
  }
  // A format the profile did not measure, or one that cannot apply, is an error.
  EXPECT_THROW(make_plan(profile, {"380KB", "kl", {"model\\.embed_tokens=a5g64"}}), Error);
  EXPECT_THROW(make_plan(profile, {"380KB", "kl", {".*down_proj=a4g64"}}), Error);
}

TEST_F(Pipeline, QuantizedFolderLoadsAndMatchesInMemoryPlan) {
  testing::ScratchDir dir;
  std::string plan_path = (dir / "plan.json").string();
  std::string out = (dir / "stories-mixed").string();
  auto planned = testing::run_optiq(fmt::format("plan {} --budget 305KB -o {}", profile_, plan_path));
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  auto quantized = testing::run_optiq(fmt::format("-q quantize {} --plan {} -o {}", model_args(), plan_path, out));
  ASSERT_EQ(quantized.exit_code, 0) << quantized.err;

  // mlx-lm layout: tied embeddings stay tied (no lm_head), packed uint32 weights.
  SafetensorsFile file(std::filesystem::path(out) / "model.safetensors");
  EXPECT_EQ(file.find("lm_head.weight"), nullptr);
  std::ifstream config_stream(std::filesystem::path(out) / "config.json");
  auto config = nlohmann::json::parse(config_stream);
  ASSERT_TRUE(config.contains("quantization"));
  EXPECT_EQ(config["quantization"], config["quantization_config"]);
  EXPECT_EQ(config["quantization"]["model.layers.0.mlp.down_proj"], false);
  Plan plan = read_plan(plan_path);
  for (const PlanEntry& e : plan.entries) {
    if (e.format.kind != QuantFormat::Kind::kAffine) continue;
    const TensorView& w = file.at(e.target.module + ".weight");
    EXPECT_EQ(w.dtype, DType::U32);
    EXPECT_EQ(w.shape[1], e.target.cols * e.format.affine.bits / 32);
    EXPECT_NE(file.find(e.target.module + ".scales"), nullptr);
    EXPECT_NE(file.find(e.target.module + ".biases"), nullptr);
  }

  // Loading the folder back gives the same logits as the plan applied in
  // memory with the same quantizer, bit for bit.
  Model exported = load_model(out);
  Model original = load_model(testing::shared_path(kModel));
  ProfileDocument profile = read_profile(profile_);
  Model in_memory = apply_plan(original, plan, &profile.result.importance);
  std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 432, 383, 286};
  auto logits_of = [&](const Model& m) {
    Transformer t(m);
    KVCache cache(m.config, 8);
    std::vector<float> logits;
    t.forward(tokens, cache, logits);
    return logits;
  };
  // The exported q/k rows are in the halves layout, so the RoPE layouts
  // differ but the results must agree closely; weights match exactly.
  std::vector<float> a = logits_of(exported);
  std::vector<float> b = logits_of(in_memory);
  ASSERT_EQ(a.size(), b.size());
  double max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i) max_diff = std::max<double>(max_diff, std::abs(a[i] - b[i]));
  EXPECT_LT(max_diff, 1e-4);
  std::vector<float> down_exported = exported.layers[2].down.to_floats();
  std::vector<float> down_memory = in_memory.layers[2].down.to_floats();
  EXPECT_EQ(down_exported, down_memory);
  std::vector<float> up_exported = exported.layers[1].up.to_floats();
  std::vector<float> up_memory = in_memory.layers[1].up.to_floats();
  EXPECT_EQ(up_exported, up_memory);

  // optiq evaluates its own output.
  auto ppl = testing::run_optiq(fmt::format("-q eval perplexity {} --text {} --ctx 128 --chunks 4 --json", out,
                                            testing::shared_path("data/tinystories/TinyStories-validation_head_794KB.txt").string()));
  ASSERT_EQ(ppl.exit_code, 0) << ppl.err;
  double perplexity = nlohmann::json::parse(ppl.out)["perplexity"].get<double>();
  EXPECT_GT(perplexity, 1.0);
  EXPECT_LT(perplexity, 50.0);
}

TEST_F(Pipeline, FailedQuantizeLeavesNothing) {
  testing::ScratchDir dir;
  std::string out = (dir / "out").string();
  auto result = testing::run_optiq(fmt::format("-q quantize {} {} --budget 1KB -o {}", model_args(), profile_args(), out));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(out));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

TEST_F(Pipeline, ProfileIsIdenticalAcrossThreadCounts) {
  testing::ScratchDir dir;
  auto one = testing::run_optiq(fmt::format("-q -t 1 profile {} {} --bits 3 --group-size 64 -o {}", model_args(),
                                            profile_args(), (dir / "one.json").string()));
  auto two = testing::run_optiq(fmt::format("-q -t 2 profile {} {} --bits 3 --group-size 64 -o {}", model_args(),
                                            profile_args(), (dir / "two.json").string()));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  auto a = nlohmann::json::parse(testing::read_text(dir / "one.json"));
  auto b = nlohmann::json::parse(testing::read_text(dir / "two.json"));
  EXPECT_EQ(a["tensors"], b["tensors"]);
  EXPECT_EQ(testing::read_text(dir / "one.importance.safetensors"),
            testing::read_text(dir / "two.importance.safetensors"));
}

// The one-command GGUF form: profile over ggml types, plan at the size of
// llama.cpp's Q4_K_M, write the file, load it back and print the table with
// the recipes. stories260K's 64- and 172-wide rows take llama.cpp's
// fallbacks for every k-quant.
TEST_F(Pipeline, GgufOneCommandComparesWithRecipes) {
  testing::ScratchDir dir;
  // The output folder does not exist yet: quantize creates it.
  const std::string out = (dir / "new" / "stories.gguf").string();
  auto result = testing::run_optiq(fmt::format(
      "-q quantize {} --format gguf --calib {} --samples 1 --seq-len 32 --budget Q4_K_M -o {} "
      "--eval-text {} --eval-ctx 32 --eval-chunks 2",
      model_args(), testing::shared_path(kCalib).string(), out,
      testing::shared_path(kCalib).string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* row : {"uniform Q8_0", "llama.cpp Q2_K", "llama.cpp Q3_K_M", "llama.cpp Q4_K_M",
                          "llama.cpp Q5_K_M", "optiq plan"}) {
    EXPECT_NE(result.out.find(row), std::string::npos) << row << " missing:\n" << result.out;
  }
  auto profile = nlohmann::json::parse(testing::read_text(out + ".profile.json"));
  EXPECT_EQ(profile["export_format"], "gguf");
  EXPECT_EQ(profile["tensors"][0]["fallbacks"][0], "Q2_K->Q4_0");

  auto inspected = testing::run_optiq("inspect " + out);
  ASSERT_EQ(inspected.exit_code, 0) << inspected.err;
  EXPECT_NE(inspected.out.find("GGUF file"), std::string::npos);

  // A plan for MLX cannot be written as GGUF.
  auto plan = testing::run_optiq(fmt::format("plan {} --budget 305KB -o {}", profile_,
                                             (dir / "mlx-plan.json").string()));
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  auto mismatch = testing::run_optiq(fmt::format("-q quantize {} --format gguf --plan {} -o {}",
                                                 model_args(), (dir / "mlx-plan.json").string(),
                                                 (dir / "x.gguf").string()));
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_NE(mismatch.err.find("the plan is for mlx"), std::string::npos) << mismatch.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
}

// optiq report: plans at several budgets in one table, sorted by size,
// each plan's row matching what plan prints for that budget.
TEST_F(Pipeline, ReportComparesSeveralBudgets) {
  auto result = testing::run_optiq(fmt::format(
      "-q report {} --profile {} --budget 280KB,305KB --eval-text {} --eval-ctx 64 "
      "--eval-chunks 2",
      model_args(), profile_, testing::shared_path(kCalib).string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const size_t small = result.out.find("\noptiq 280KB");
  const size_t large = result.out.find("\noptiq 305KB");
  const size_t uniform4 = result.out.find("\nuniform a4g");
  const size_t uniform8 = result.out.find("\nuniform a8g");
  ASSERT_NE(small, std::string::npos) << result.out;
  ASSERT_NE(large, std::string::npos) << result.out;
  ASSERT_NE(uniform4, std::string::npos) << result.out;
  ASSERT_NE(uniform8, std::string::npos) << result.out;
  // Sizes: uniform 4-bit (226-252 KB) < 280 KB < 305 KB < uniform 8-bit
  // (329 KB and up).
  EXPECT_LT(uniform4, small);
  EXPECT_LT(small, large);
  EXPECT_LT(large, uniform8);

  auto missing = testing::run_optiq(fmt::format(
      "-q report {} --profile {} --budget 1KB --eval-text {}", model_args(), profile_,
      testing::shared_path(kCalib).string()));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot be met"), std::string::npos) << missing.err;
}

// optiq eval kld: zero against itself, small and positive against a Q8_0
// GGUF export of the same weights, on the same scored positions.
TEST_F(Pipeline, EvalKldAgainstItselfAndQ8) {
  testing::ScratchDir dir;
  const std::string gguf = (dir / "q8.gguf").string();
  auto exported = testing::run_optiq(fmt::format("-q export-gguf {} --type Q8_0 -o {}",
                                                 model_args(), gguf));
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  const std::string text = testing::shared_path(kCalib).string();
  auto same = testing::run_optiq(fmt::format("-q eval kld {} {} --text {} --ctx 64 --chunks 3 --json",
                                             model_args(), testing::shared_path(kModel).string(),
                                             text));
  ASSERT_EQ(same.exit_code, 0) << same.err;
  auto a = nlohmann::json::parse(same.out);
  EXPECT_EQ(a["mean_kld"].get<double>(), 0.0);
  EXPECT_EQ(a["top1_agreement"].get<double>(), 1.0);
  EXPECT_EQ(a["base_perplexity"], a["candidate_perplexity"]);
  EXPECT_EQ(a["tokens_scored"].get<int64_t>(), 3 * 31);

  auto q8 = testing::run_optiq(fmt::format("-q eval kld {} {} --text {} --ctx 64 --chunks 3 --json",
                                           model_args(), gguf, text));
  ASSERT_EQ(q8.exit_code, 0) << q8.err;
  auto b = nlohmann::json::parse(q8.out);
  EXPECT_GT(b["mean_kld"].get<double>(), 0.0);
  EXPECT_LT(b["mean_kld"].get<double>(), 0.05);
  EXPECT_EQ(b["tokens_scored"], a["tokens_scored"]);
  EXPECT_EQ(b["base_perplexity"], a["base_perplexity"]);
}

}  // namespace
}  // namespace optiq
