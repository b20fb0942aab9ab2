// optiq's GGUF exports checked by llama.cpp itself. node-llama-cpp 3.21.1,
// installed from npm into a scratch folder with its prebuilt CPU build of
// llama.cpp, loads each file. It returns the next-token distribution at
// every position of a fixed token sequence and a greedy continuation.
// optiq runs its own forward pass on the weights decoded from the same GGUF
// file. Both must agree on the argmax at >= 99% of positions and on
// perplexity within 0.5%.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "optiq/core/progress.h"
#include "optiq/export/gguf_export.h"
#include "optiq/io/gguf_file.h"
#include "optiq/model/forward.h"
#include "optiq/model/rope_permute.h"
#include "optiq/profile/profiler.h"
#include "optiq/quant/ggml_quant.h"
#include "optiq/tokenizer/sentencepiece_tokenizer.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace optiq {
namespace {

constexpr const char* kPackage = "node-llama-cpp@3.21.1";
constexpr const char* kStories = "models/stories260K/stories260K.bin";
constexpr const char* kStoriesVocab = "models/stories260K/tok512.bin";
constexpr const char* kStoriesGreedy =
    "models/stories260K/expected_greedy_t0_n200.ids.txt";
constexpr const char* kKdocs = "models/optiq-bench-kdocs";
constexpr const char* kKdocsText = "data/kernel-docs/test.txt";
constexpr const char* kKdocsGreedy =
    "models/optiq-bench-kdocs/ref_greedy_ids.txt";

int run_shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<int32_t> read_ids(const fs::path& path) {
  std::ifstream in(path);
  std::vector<int32_t> ids;
  for (int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

// One npm install per test binary run, shared by the tests.
class LlamaCppCheck : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Progress::set_enabled(false);
    install_ = std::make_unique<testing::ScratchDir>();
    const fs::path log = *install_ / "npm.log";
    if (run_shell("npm --version > " + log.string() + " 2>&1") != 0) {
      skip_reason_ = "npm is not installed";
      return;
    }
    // The package ships llama.cpp prebuilt for linux-x64. Skipping the
    // download keeps its postinstall step from fetching or compiling one.
    const std::string command =
        "cd " + install_->path().string() +
        " && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true timeout 900 npm install "
        "--no-audit --no-fund --loglevel=error " +
        kPackage + " > " + log.string() + " 2>&1";
    if (run_shell(command) != 0) {
      skip_reason_ =
          std::string("npm install ") + kPackage +
          " failed (registry unreachable?): " + testing::read_text(log);
    }
  }
  static void TearDownTestSuite() { install_.reset(); }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  }

  // Runs tests/llamacpp/eval_gguf.mjs on `request` (package_dir added).
  json run_llamacpp(json request) {
    request["package_dir"] = install_->path().string();
    request["threads"] = 2;
    const fs::path in = scratch_ / "request.json";
    const fs::path out = scratch_ / "result.json";
    const fs::path log = scratch_ / "node.log";
    std::ofstream(in) << request.dump();
    const std::string script =
        std::string(OPTIQ_SOURCE_DIR) + "/tests/llamacpp/eval_gguf.mjs";
    const int rc = run_shell("node " + script + " " + in.string() + " " +
                             out.string() + " > " + log.string() + " 2>&1");
    EXPECT_EQ(rc, 0) << testing::read_text(log);
    if (rc != 0) return json();
    return json::parse(testing::read_text(out));
  }

  static std::unique_ptr<testing::ScratchDir> install_;
  static std::string skip_reason_;
  testing::ScratchDir scratch_;
};

std::unique_ptr<testing::ScratchDir> LlamaCppCheck::install_;
std::string LlamaCppCheck::skip_reason_;

// Dequantized values of a 2-D GGUF tensor, row-major [ne[1], ne[0]].
Matrix read_matrix(const GgufFile& f, const std::string& name,
                   bool halves_layout, int64_t heads) {
  const GgufTensorInfo& t = f.tensor(name);
  const GgmlType type = static_cast<GgmlType>(t.type);
  const int64_t cols = t.ne[0];
  const int64_t rows = t.ne[1];
  std::vector<float> w(rows * cols);
  const size_t row_bytes = ggml_row_bytes(type, cols);
  for (int64_t r = 0; r < rows; ++r) {
    ggml_dequantize_row(type, t.data + r * row_bytes, &w[r * cols], cols);
  }
  if (halves_layout && heads > 0)
    w = interleaved_to_halves(w, rows, cols, heads);
  return Matrix::from_floats(name, rows, cols, std::move(w));
}

// `base` with every 2-D weight replaced by the one decoded from `f`, in
// base's RoPE layout.
Model model_from_gguf(const Model& base, const GgufFile& f) {
  Model m = base;
  const ModelConfig& c = m.config;
  const bool halves = c.rope_layout == RopeLayout::kHalves;
  m.embedding = read_matrix(f, "token_embd.weight", false, 0);
  const char* names[] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                         "ffn_gate", "ffn_up", "ffn_down"};
  for (int64_t l = 0; l < c.n_layers; ++l) {
    for (int p = 0; p < kProjectionCount; ++p) {
      const int64_t heads = p == 0 ? c.n_heads : p == 1 ? c.n_kv_heads : 0;
      m.layers[l].projection(kAllProjections[p]) = read_matrix(
          f, "blk." + std::to_string(l) + "." + names[p] + ".weight", halves,
          heads);
    }
  }
  m.output = c.tied_embeddings ? m.embedding
                               : read_matrix(f, "output.weight", false, 0);
  return m;
}

struct Comparison {
  double top1_agreement = 0;
  double ppl_optiq = 0;
  double ppl_llamacpp = 0;
};

// optiq's forward on `tokens` against llama.cpp's `result`.
Comparison compare(const Model& model, const std::vector<int32_t>& tokens,
                   const json& result) {
  Transformer transformer(model);
  KVCache cache(model.config, static_cast<int64_t>(tokens.size()));
  std::vector<float> logits;
  transformer.forward(tokens, cache, logits);
  const int64_t vocab = model.config.vocab;
  const auto top1 = result["top1"].get<std::vector<int32_t>>();
  const auto next_prob = result["next_prob"].get<std::vector<double>>();
  EXPECT_EQ(top1.size(), tokens.size());
  EXPECT_EQ(next_prob.size(), tokens.size() - 1);
  Comparison out;
  double nll_optiq = 0, nll_llamacpp = 0;
  int64_t agree = 0;
  const int64_t n = static_cast<int64_t>(tokens.size()) - 1;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = &logits[i * vocab];
    const int64_t argmax = std::max_element(row, row + vocab) - row;
    if (argmax == top1[i]) ++agree;
    double max = row[argmax], sum = 0;
    for (int64_t v = 0; v < vocab; ++v) sum += std::exp(row[v] - max);
    nll_optiq += -(row[tokens[i + 1]] - max - std::log(sum));
    nll_llamacpp += -std::log(std::max(next_prob[i], 1e-30));
  }
  out.top1_agreement = static_cast<double>(agree) / n;
  out.ppl_optiq = std::exp(nll_optiq / n);
  out.ppl_llamacpp = std::exp(nll_llamacpp / n);
  std::printf("top-1 agreement %.4f, perplexity optiq %.4f llama.cpp %.4f\n",
              out.top1_agreement, out.ppl_optiq, out.ppl_llamacpp);
  return out;
}

void expect_agreement(const Comparison& c) {
  EXPECT_GE(c.top1_agreement, 0.99);
  EXPECT_NEAR(c.ppl_llamacpp / c.ppl_optiq, 1.0, 0.005);
}

int64_t matching_prefix(const std::vector<int32_t>& a,
                        const std::vector<int32_t>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return static_cast<int64_t>(i);
}

TEST_F(LlamaCppCheck, Stories260KF32) {
  OPTIQ_REQUIRE_SHARED(kStories);
  Model model = load_model(testing::shared_path(kStories));
  GgufVocab vocab = find_gguf_vocab(model, testing::shared_path(kStoriesVocab));
  const fs::path gguf = scratch_ / "stories.gguf";
  export_gguf(model, nullptr, GgmlType::F32, &vocab, gguf);

  // Evaluate BOS + llama2.c's own greedy story.
  const std::vector<int32_t> expected =
      read_ids(testing::shared_path(kStoriesGreedy));
  ASSERT_EQ(expected.size(), 200u);
  std::vector<int32_t> tokens = {1};
  tokens.insert(tokens.end(), expected.begin(), expected.end());
  json result = run_llamacpp({{"model", gguf.string()},
                              {"context", 512},
                              {"tokens", tokens},
                              {"greedy_prompt", {1}},
                              {"greedy_count", 200}});
  ASSERT_FALSE(result.is_null());
  EXPECT_EQ(result["vocab_entries"].get<int>(), 512);
  EXPECT_NEAR(result["prob_sum"].get<double>(), 1.0, 1e-3);
  GgufFile f(gguf);
  expect_agreement(compare(model_from_gguf(model, f), tokens, result));

  const auto greedy = result["greedy"].get<std::vector<int32_t>>();
  const int64_t same = matching_prefix(greedy, expected);
  std::printf("llama.cpp greedy reproduces %lld of 200 llama2.c tokens\n",
              static_cast<long long>(same));
  EXPECT_EQ(same, 200);
}

class LlamaCppKdocs : public LlamaCppCheck,
                      public ::testing::WithParamInterface<GgmlType> {};

TEST_P(LlamaCppKdocs, AgreesWithOptiq) {
  OPTIQ_REQUIRE_SHARED(kKdocs);
  OPTIQ_REQUIRE_SHARED(kKdocsText);
  Model model = load_model(testing::shared_path(kKdocs));
  GgufVocab vocab = find_gguf_vocab(model, "");
  const fs::path gguf = scratch_ / "kdocs.gguf";
  export_gguf(model, nullptr, GetParam(), &vocab, gguf);

  // The first 255 tokens of the held-out text after BOS (n_ctx 256).
  SentencePieceTokenizer tokenizer(testing::shared_path(kKdocs) /
                                   "tokenizer.model");
  std::string text = testing::read_text(testing::shared_path(kKdocsText));
  text.resize(4000);
  std::vector<int32_t> tokens = {1};
  for (int32_t id : tokenizer.encode(text)) tokens.push_back(id);
  ASSERT_GE(tokens.size(), 256u);
  tokens.resize(256);

  const std::vector<int32_t> reference =
      read_ids(testing::shared_path(kKdocsGreedy));
  // BOS + "The kernel", then 64 greedy tokens.
  ASSERT_EQ(reference.size(), 3u + 64u);
  const std::vector<int32_t> prompt(reference.begin(), reference.begin() + 3);
  json result = run_llamacpp({{"model", gguf.string()},
                              {"context", 256},
                              {"tokens", tokens},
                              {"greedy_prompt", prompt},
                              {"greedy_count", 64}});
  ASSERT_FALSE(result.is_null());
  EXPECT_EQ(result["vocab_entries"].get<int>(), 4096);
  GgufFile f(gguf);
  expect_agreement(compare(model_from_gguf(model, f), tokens, result));

  const auto greedy = result["greedy"].get<std::vector<int32_t>>();
  const std::vector<int32_t> ref_new(reference.begin() + 3, reference.end());
  const int64_t same = matching_prefix(greedy, ref_new);
  std::printf("%s: llama.cpp greedy matches %lld of 64 reference tokens\n",
              std::string(ggml_type_name(GetParam())).c_str(),
              static_cast<long long>(same));
  if (GetParam() == GgmlType::F16) {
    EXPECT_GE(same, 32);
  }
}

// A mixed file: every block type optiq writes, dealt out over the tensors,
// read by optiq's own GGUF loader and by llama.cpp.
TEST_F(LlamaCppCheck, KdocsMixedPlan) {
  OPTIQ_REQUIRE_SHARED(kKdocs);
  OPTIQ_REQUIRE_SHARED(kKdocsText);
  Model model = load_model(testing::shared_path(kKdocs));
  const GgmlType cycle[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                            GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0,
                            GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                            GgmlType::Q5_1, GgmlType::F16};
  Plan plan;
  plan.export_format = ExportFormat::kGguf;
  size_t i = 0;
  for (const ProfileTarget& target : profile_targets(model, true)) {
    PlanEntry entry;
    entry.target = target;
    // The head decides most of the damage: keep it at 6 bits.
    entry.format = QuantFormat::ggml_format(
        target.kind == ProfileTarget::Kind::kOutput ? GgmlType::Q6_K
                                                    : cycle[i++ % 11]);
    plan.entries.push_back(entry);
  }
  GgufVocab vocab = find_gguf_vocab(model, "");
  const fs::path gguf = scratch_ / "kdocs-mixed.gguf";
  export_gguf(model, &plan, GgmlType::F16, &vocab, gguf);

  SentencePieceTokenizer tokenizer(testing::shared_path(kKdocs) /
                                   "tokenizer.model");
  std::string text = testing::read_text(testing::shared_path(kKdocsText));
  text.resize(4000);
  std::vector<int32_t> tokens = {1};
  for (int32_t id : tokenizer.encode(text)) tokens.push_back(id);
  ASSERT_GE(tokens.size(), 256u);
  tokens.resize(256);
  const std::vector<int32_t> prompt = {1, tokens[1], tokens[2]};
  json result = run_llamacpp({{"model", gguf.string()},
                              {"context", 256},
                              {"tokens", tokens},
                              {"greedy_prompt", prompt},
                              {"greedy_count", 64}});
  ASSERT_FALSE(result.is_null());
  Model loaded = load_model(gguf);
  expect_agreement(compare(loaded, tokens, result));

  // optiq's greedy continuation of the same file.
  Transformer transformer(loaded);
  KVCache cache(loaded.config, 3 + 64);
  std::vector<float> logits;
  std::vector<int32_t> greedy;
  transformer.forward(prompt, cache, logits);
  const int64_t vocab_size = loaded.config.vocab;
  for (int step = 0; step < 64; ++step) {
    const float* last = logits.data() + logits.size() - vocab_size;
    const int32_t next =
        static_cast<int32_t>(std::max_element(last, last + vocab_size) - last);
    greedy.push_back(next);
    if (step + 1 < 64) {
      const std::vector<int32_t> one = {next};
      transformer.forward(one, cache, logits);
    }
  }
  const int64_t same =
      matching_prefix(result["greedy"].get<std::vector<int32_t>>(), greedy);
  std::printf("mixed plan: llama.cpp and optiq greedy agree on %lld of 64\n",
              static_cast<long long>(same));
  // k-quant dot products in llama.cpp round activations to 8 bits, so a
  // near tie can flip late in the continuation.
  EXPECT_GE(same, 16);
}

INSTANTIATE_TEST_SUITE_P(Types, LlamaCppKdocs,
                         ::testing::Values(GgmlType::F16, GgmlType::Q8_0,
                                           GgmlType::Q4_K),
                         [](const auto& info) {
                           return std::string(ggml_type_name(info.param));
                         });

}  // namespace
}  // namespace optiq
