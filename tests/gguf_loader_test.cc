// optiq's engine on GGUF files: exports of small checkpoints (Llama with
// GQA, Qwen2 with q/k/v bias and tied embeddings) load back and give the
// source model's logits, quantized types decode as the quantizer wrote
// them, and malformed model metadata gets errors naming the key or tensor.
#include <gtest/gtest.h>

#include <cmath>

#include "checkpoint_writer.h"
#include "optiq/core/error.h"
#include "optiq/export/gguf_export.h"
#include "optiq/io/gguf_file.h"
#include "optiq/io/gguf_writer.h"
#include "optiq/model/forward.h"
#include "test_support.h"

namespace optiq {
namespace {

using testing::CheckpointSpec;

const std::vector<int32_t> kTokens = {1, 17, 5, 42, 9, 33, 2, 60, 11, 8};

std::vector<float> logits_of(const Model& model) {
  Transformer transformer(model);
  KVCache cache(model.config, static_cast<int64_t>(kTokens.size()));
  std::vector<float> logits;
  transformer.forward(kTokens, cache, logits);
  return logits;
}

double max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return worst;
}

CheckpointSpec llama_spec() {
  CheckpointSpec spec;
  spec.hidden = 64;
  spec.intermediate = 96;
  spec.n_heads = 4;
  spec.n_kv_heads = 2;
  spec.vocab = 64;
  return spec;
}

CheckpointSpec qwen2_spec() {
  CheckpointSpec spec = llama_spec();
  spec.architecture = "Qwen2ForCausalLM";
  spec.tied_embeddings = true;
  spec.qkv_bias = true;
  return spec;
}

class GgufLoaderTest : public ::testing::TestWithParam<bool> {
 protected:
  CheckpointSpec spec() const { return GetParam() ? qwen2_spec() : llama_spec(); }
  testing::ScratchDir scratch_;
};

TEST_P(GgufLoaderTest, F32ExportGivesTheSourceLogits) {
  testing::write_checkpoint(scratch_.path() / "hf", spec());
  Model source = load_model(scratch_.path() / "hf");
  const auto path = scratch_.path() / "model.gguf";
  export_gguf(source, nullptr, GgmlType::F32, nullptr, path);
  Model loaded = load_model(path);
  EXPECT_EQ(loaded.source_kind, "gguf");
  EXPECT_EQ(loaded.config.architecture, source.config.architecture);
  EXPECT_EQ(loaded.config.tied_embeddings, source.config.tied_embeddings);
  EXPECT_EQ(loaded.config.qkv_bias, source.config.qkv_bias);
  EXPECT_EQ(loaded.config.n_kv_heads, 2);
  EXPECT_EQ(loaded.config.rope_layout,
            GetParam() ? RopeLayout::kHalves : RopeLayout::kInterleaved);
  EXPECT_EQ(parameter_count(loaded), parameter_count(source));
  EXPECT_LT(max_abs_difference(logits_of(loaded), logits_of(source)), 1e-4);
}

TEST_P(GgufLoaderTest, QuantizedExportDecodesAsWritten) {
  testing::write_checkpoint(scratch_.path() / "hf", spec());
  Model source = load_model(scratch_.path() / "hf");
  const auto path = scratch_.path() / "model.gguf";
  export_gguf(source, nullptr, GgmlType::Q8_0, nullptr, path);
  Model loaded = load_model(path);
  EXPECT_EQ(loaded.layers[0].v.format_name(), "Q8_0");
  // v_proj rows are not permuted for either architecture: compare values.
  std::vector<float> w = source.layers[0].v.to_floats();
  std::vector<float> expected(w.size());
  ggml_fake_quantize_matrix(GgmlType::Q8_0, w.data(), source.layers[0].v.rows(),
                            source.layers[0].v.cols(), nullptr, expected.data());
  EXPECT_EQ(loaded.layers[0].v.to_floats(), expected);
  // Q8_0 everywhere moves the logits a little, not a lot.
  const double difference = max_abs_difference(logits_of(loaded), logits_of(source));
  EXPECT_GT(difference, 0.0);
  EXPECT_LT(difference, 0.05);
}

INSTANTIATE_TEST_SUITE_P(Architectures, GgufLoaderTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Qwen2" : "Llama"; });

void expect_error(const std::filesystem::path& path, const std::string& needle) {
  try {
    load_model(path);
    ADD_FAILURE() << "no error for " << path << " (expected '" << needle << "')";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(GgufLoaderErrors, UnsupportedArchitecture) {
  testing::ScratchDir scratch;
  GgufWriter writer;
  writer.set_string("general.architecture", "falcon");
  writer.write(scratch.path() / "falcon.gguf");
  expect_error(scratch.path() / "falcon.gguf", "'falcon'");
}

TEST(GgufLoaderErrors, MissingKeyAndTensor) {
  testing::ScratchDir scratch;
  GgufWriter writer;
  writer.set_string("general.architecture", "llama");
  writer.write(scratch.path() / "no-keys.gguf");
  expect_error(scratch.path() / "no-keys.gguf", "llama.embedding_length");

  writer.set_uint32("llama.embedding_length", 64);
  writer.set_uint32("llama.block_count", 1);
  writer.set_uint32("llama.feed_forward_length", 96);
  writer.set_uint32("llama.attention.head_count", 4);
  writer.set_uint32("llama.context_length", 128);
  writer.write(scratch.path() / "no-tensors.gguf");
  expect_error(scratch.path() / "no-tensors.gguf", "token_embd.weight");
}

TEST(GgufLoaderErrors, WrongShapeNamesTheTensor) {
  testing::ScratchDir scratch;
  testing::write_checkpoint(scratch.path() / "hf", llama_spec());
  Model source = load_model(scratch.path() / "hf");
  // Claim a wider feed-forward than the tensors have.
  GgufFile good = [&] {
    export_gguf(source, nullptr, GgmlType::F32, nullptr, scratch.path() / "good.gguf");
    return GgufFile(scratch.path() / "good.gguf");
  }();
  GgufWriter writer;
  for (const GgufValue& value : good.metadata()) {
    if (value.key() == "llama.feed_forward_length") {
      writer.set_uint32(value.key(), 128);
    } else {
      writer.set(value);
    }
  }
  for (const GgufTensorInfo& t : good.tensors()) {
    writer.add_tensor(t.name, t.ne, t.type, {t.data, static_cast<size_t>(t.nbytes)});
  }
  writer.write(scratch.path() / "bad.gguf");
  expect_error(scratch.path() / "bad.gguf", "blk.0.ffn_gate.weight");
}

}  // namespace
}  // namespace optiq
