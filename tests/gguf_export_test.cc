// GGUF export: metadata keys, tensor names, shapes and types, and tensor
// values read back with GgufFile and compared with the source files.
#include "optiq/export/gguf_export.h"

#include <cstring>
#include <fstream>

#include "optiq/core/error.h"
#include "optiq/core/half.h"
#include "optiq/core/progress.h"
#include "optiq/io/gguf_file.h"
#include "optiq/quant/ggml_quant.h"
#include "test_support.h"

namespace optiq {
namespace {

constexpr const char* kStories = "models/stories260K/stories260K.bin";
constexpr const char* kStoriesVocab = "models/stories260K/tok512.bin";
constexpr const char* kStoriesSpm = "models/stories260K/tok512.model";
constexpr const char* kKdocs = "models/optiq-bench-kdocs";

int64_t u(const GgufFile& f, const char* key) { return f.at(key).as_int64(); }

// Dequantized values of a 2-D tensor, row-major [ne[1], ne[0]].
std::vector<float> read_matrix(const GgufTensorInfo& t) {
  const GgmlType type = static_cast<GgmlType>(t.type);
  std::vector<float> out(t.numel());
  const size_t row_bytes = ggml_row_bytes(type, t.ne[0]);
  const int64_t rows = t.numel() / t.ne[0];
  for (int64_t r = 0; r < rows; ++r) {
    ggml_dequantize_row(type, t.data + r * row_bytes, out.data() + r * t.ne[0],
                        t.ne[0]);
  }
  return out;
}

// llama.cpp convert_hf_to_gguf.py's q/k permutation, written from its
// definition: reshape rows to (heads, 2, d/2), swap the last two row axes.
// Row h·d + 2i + s of the result is row h·d + s·d/2 + i of the input.
std::vector<float> llamacpp_permute(const std::vector<float>& w, int64_t rows,
                                    int64_t cols, int64_t heads) {
  const int64_t d = rows / heads;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < d / 2; ++i) {
      for (int64_t s = 0; s < 2; ++s) {
        std::memcpy(&out[(h * d + 2 * i + s) * cols],
                    &w[(h * d + s * d / 2 + i) * cols], cols * sizeof(float));
      }
    }
  }
  return out;
}

// Floats at element offset `at` of a llama2.c checkpoint, after its
// 7-int32 header.
std::vector<float> checkpoint_floats(const std::filesystem::path& path,
                                     int64_t at, int64_t count) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(28 + at * 4);
  std::vector<float> out(count);
  in.read(reinterpret_cast<char*>(out.data()), count * 4);
  EXPECT_TRUE(in.good());
  return out;
}

class GgufExportTest : public ::testing::Test {
 protected:
  void SetUp() override { Progress::set_enabled(false); }
  testing::ScratchDir scratch_;
};

TEST_F(GgufExportTest, Stories260KF32KeysAndTensors) {
  OPTIQ_REQUIRE_SHARED(kStories);
  const auto model_path = testing::shared_path(kStories);
  Model model = load_model(model_path);
  GgufVocab vocab = find_gguf_vocab(model, testing::shared_path(kStoriesVocab));
  const auto out = scratch_ / "stories.gguf";
  GgufExportSummary summary =
      export_gguf(model, nullptr, GgmlType::F32, &vocab, out);

  GgufFile f(out);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.at("general.architecture").as_string(), "llama");
  // dim=64, hidden_dim=172, n_layers=5, n_heads=8, n_kv_heads=4,
  // vocab=512, seq_len=512 (the checkpoint header).
  EXPECT_EQ(u(f, "llama.embedding_length"), 64);
  EXPECT_EQ(u(f, "llama.feed_forward_length"), 172);
  EXPECT_EQ(u(f, "llama.block_count"), 5);
  EXPECT_EQ(u(f, "llama.attention.head_count"), 8);
  EXPECT_EQ(u(f, "llama.attention.head_count_kv"), 4);
  EXPECT_EQ(u(f, "llama.context_length"), 512);
  EXPECT_EQ(u(f, "llama.vocab_size"), 512);
  EXPECT_EQ(u(f, "llama.rope.dimension_count"), 8);
  EXPECT_EQ(u(f, "general.file_type"), 0);
  EXPECT_FLOAT_EQ(f.at("llama.rope.freq_base").as_float(), 10000.0f);
  EXPECT_FLOAT_EQ(f.at("llama.attention.layer_norm_rms_epsilon").as_float(),
                  1e-5f);
  EXPECT_EQ(f.at("tokenizer.ggml.model").as_string(), "llama");
  EXPECT_EQ(u(f, "tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(u(f, "tokenizer.ggml.eos_token_id"), 2);
  EXPECT_EQ(u(f, "tokenizer.ggml.unknown_token_id"), 0);
  EXPECT_TRUE(f.at("tokenizer.ggml.add_bos_token").as_bool());

  // token_embd + output_norm + 9 per layer; no output (tied).
  EXPECT_EQ(f.tensors().size(), 2u + 9u * 5u);
  EXPECT_EQ(summary.tensor_count, 47);
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);
  const GgufTensorInfo& embd = f.tensor("token_embd.weight");
  EXPECT_EQ(embd.ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(f.tensor("blk.4.attn_k.weight").ne, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").ne,
            (std::vector<int64_t>{172, 64}));
  EXPECT_EQ(f.tensor("blk.0.ffn_gate.weight").ne,
            (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(f.tensor("blk.2.attn_norm.weight").ne, (std::vector<int64_t>{64}));
  for (const GgufTensorInfo& t : f.tensors()) {
    EXPECT_EQ(t.type, 0u) << t.name;
  }
  // Every byte accounted for: 512*64 + 64 + 5 * (2*64 + 64*64*2 + 64*32*2
  // + 3*64*172) floats.
  EXPECT_EQ(summary.tensor_bytes,
            4u * (512 * 64 + 64 + 5 * (128 + 8192 + 4096 + 3 * 64 * 172)));

  // A llama2.c checkpoint already stores q/k interleaved, as GGUF does, so
  // the bytes equal the checkpoint's: token_embedding [512*64], then
  // rms_att [5*64], then wq [5][64*64].
  const std::vector<float> wq0 =
      checkpoint_floats(model_path, 512 * 64 + 5 * 64, 64 * 64);
  EXPECT_EQ(read_matrix(f.tensor("blk.0.attn_q.weight")), wq0);
  EXPECT_EQ(read_matrix(embd), checkpoint_floats(model_path, 0, 512 * 64));
}

TEST_F(GgufExportTest, Llama2cVocabMatchesSentencePieceModel) {
  OPTIQ_REQUIRE_SHARED(kStoriesVocab);
  OPTIQ_REQUIRE_SHARED(kStoriesSpm);
  GgufVocab from_bin = read_llama2c_vocab(testing::shared_path(kStoriesVocab));
  GgufVocab from_spm =
      read_sentencepiece_vocab(testing::shared_path(kStoriesSpm));
  ASSERT_EQ(from_bin.tokens.size(), 512u);
  EXPECT_EQ(from_bin.tokens[0], "<unk>");
  EXPECT_EQ(from_bin.tokens[1], "<s>");
  EXPECT_EQ(from_bin.tokens[2], "</s>");
  EXPECT_EQ(from_bin.tokens[3], "<0x00>");
  EXPECT_EQ(from_bin.token_types[0], 2);
  EXPECT_EQ(from_bin.token_types[1], 3);
  EXPECT_EQ(from_bin.token_types[2], 3);
  EXPECT_EQ(from_bin.token_types[3], 6);
  EXPECT_EQ(from_bin.token_types[258], 6);  // <0xFF>
  EXPECT_EQ(from_bin.token_types[259], 1);
  EXPECT_EQ(from_bin.tokens, from_spm.tokens);
  EXPECT_EQ(from_bin.token_types, from_spm.token_types);
  EXPECT_EQ(from_bin.scores, from_spm.scores);
  EXPECT_EQ(from_spm.bos_id, 1);
  EXPECT_EQ(from_spm.eos_id, 2);
  EXPECT_EQ(from_spm.unknown_id, 0);
}

TEST_F(GgufExportTest, KdocsF16RoundTrip) {
  OPTIQ_REQUIRE_SHARED(kKdocs);
  Model model = load_model(testing::shared_path(kKdocs));
  GgufVocab vocab = find_gguf_vocab(model, "");
  const auto out = scratch_ / "kdocs.gguf";
  export_gguf(model, nullptr, GgmlType::F16, &vocab, out);

  GgufFile f(out);
  EXPECT_EQ(u(f, "llama.embedding_length"), 256);
  EXPECT_EQ(u(f, "llama.feed_forward_length"), 768);
  EXPECT_EQ(u(f, "llama.block_count"), 6);
  EXPECT_EQ(u(f, "llama.attention.head_count"), 4);
  EXPECT_EQ(u(f, "llama.attention.head_count_kv"), 2);
  EXPECT_EQ(u(f, "llama.context_length"), 256);
  EXPECT_EQ(u(f, "llama.rope.dimension_count"), 64);
  EXPECT_EQ(u(f, "general.file_type"), 1);
  EXPECT_EQ(f.at("tokenizer.ggml.tokens").array_size(), 4096u);
  EXPECT_EQ(f.at("tokenizer.ggml.tokens").as_string_array()[1], "<s>");
  EXPECT_EQ(f.tensors().size(), 3u + 9u * 6u);
  const GgufTensorInfo& output = f.tensor("output.weight");
  EXPECT_EQ(output.ne, (std::vector<int64_t>{256, 4096}));
  EXPECT_EQ(output.type, 1u);
  EXPECT_EQ(f.tensor("output_norm.weight").type, 0u);
  EXPECT_EQ(f.tensor("blk.5.ffn_norm.weight").type, 0u);
  EXPECT_EQ(f.tensor("blk.5.ffn_down.weight").ne,
            (std::vector<int64_t>{768, 256}));

  // BF16 source values are exact in F16 here; q and k rows follow
  // llama.cpp's permutation, v rows keep their order.
  auto f16_round = [](std::vector<float> v) {
    for (float& x : v) x = f16_to_float(float_to_f16(x));
    return v;
  };
  const LayerWeights& l3 = model.layers[3];
  EXPECT_EQ(read_matrix(f.tensor("blk.3.attn_q.weight")),
            f16_round(llamacpp_permute(l3.q.to_floats(), 256, 256, 4)));
  EXPECT_EQ(read_matrix(f.tensor("blk.3.attn_k.weight")),
            f16_round(llamacpp_permute(l3.k.to_floats(), 128, 256, 2)));
  EXPECT_EQ(read_matrix(f.tensor("blk.3.attn_v.weight")),
            f16_round(l3.v.to_floats()));
  EXPECT_EQ(read_matrix(output), f16_round(model.output.to_floats()));
  std::vector<float> norm(256);
  std::memcpy(norm.data(), f.tensor("blk.3.attn_norm.weight").data, 1024);
  EXPECT_EQ(norm, l3.attn_norm);
}

TEST_F(GgufExportTest, KdocsQ8_0DecodesToFakeQuantizedSource) {
  OPTIQ_REQUIRE_SHARED(kKdocs);
  Model model = load_model(testing::shared_path(kKdocs));
  GgufVocab vocab = find_gguf_vocab(model, "");
  const auto out = scratch_ / "kdocs-q8.gguf";
  export_gguf(model, nullptr, GgmlType::Q8_0, &vocab, out);
  GgufFile f(out);
  EXPECT_EQ(u(f, "general.file_type"), 7);
  const GgufTensorInfo& down = f.tensor("blk.1.ffn_down.weight");
  EXPECT_EQ(down.type, 8u);
  // 34 bytes per 32 weights.
  EXPECT_EQ(down.nbytes, 256u * 768 / 32 * 34);
  std::vector<float> source = model.layers[1].down.to_floats();
  std::vector<float> expected(source.size());
  ggml_fake_quantize_matrix(GgmlType::Q8_0, source.data(), 256, 768, nullptr,
                            expected.data());
  const std::vector<float> got = read_matrix(down);
  EXPECT_EQ(got, expected);
  double err = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    err += (got[i] - source[i]) * (got[i] - source[i]);
    norm += source[i] * source[i];
  }
  EXPECT_LT(err / norm, 1e-4);  // 8-bit codes: relative error ~1e-5
}

TEST_F(GgufExportTest, PlanTypesAndLlamaCppFallbacks) {
  OPTIQ_REQUIRE_SHARED(kStories);
  Model model = load_model(testing::shared_path(kStories));
  Plan plan;
  PlanEntry entry;
  entry.target.module = "model.layers.2.self_attn.v_proj";
  entry.target.rows = 32;
  entry.target.cols = 64;
  entry.format = QuantFormat::ggml_format(GgmlType::Q8_0);
  plan.entries.push_back(entry);
  entry.target.module = "model.layers.2.self_attn.o_proj";
  entry.target.rows = 64;
  entry.format = QuantFormat::float_format(DType::F32);
  plan.entries.push_back(entry);
  const auto out = scratch_ / "mixed.gguf";
  GgufExportSummary summary =
      export_gguf(model, &plan, GgmlType::Q4_K, nullptr, out);
  GgufFile f(out);
  EXPECT_EQ(f.tensor("blk.2.attn_v.weight").type, 8u);       // Q8_0
  EXPECT_EQ(f.tensor("blk.2.attn_output.weight").type, 0u);  // F32
  // Rows of 64 are no multiple of 256: llama.cpp stores Q4_K as Q5_0 then;
  // rows of 172 are no multiple of 32 either, so they become F16.
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, 6u);    // Q5_0
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").type, 1u);  // F16
  EXPECT_EQ(f.tensor("blk.0.ffn_up.weight").type, 6u);    // 64 inputs
  EXPECT_EQ(f.find("tokenizer.ggml.tokens"), nullptr);
  EXPECT_GT(summary.fallback_count, 0);

  plan.entries[0].format = QuantFormat::affine_format(4, 32);
  EXPECT_THROW(export_gguf(model, &plan, GgmlType::F16, nullptr, out), Error);
  plan.entries[0].format = QuantFormat::ggml_format(GgmlType::Q8_0);
  plan.entries[0].target.rows = 64;
  EXPECT_THROW(export_gguf(model, &plan, GgmlType::F16, nullptr, out), Error);
}

TEST_F(GgufExportTest, CommandLineWritesAReadableFile) {
  OPTIQ_REQUIRE_SHARED(kStories);
  const auto out = scratch_ / "cli.gguf";
  auto result = testing::run_optiq(
      "export-gguf " + testing::shared_path(kStories).string() +
      " --tokenizer " + testing::shared_path(kStoriesVocab).string() +
      " --type Q8_0 -o " + out.string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  GgufFile f(out);
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type, 8u);
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").type, 1u);  // 172 inputs

  auto bad = testing::run_optiq("export-gguf " +
                                testing::shared_path(kStories).string() +
                                " --type Q9_9 -o " + out.string());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("Q9_9"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace optiq
