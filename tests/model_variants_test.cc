// Architecture variants of small Hugging Face checkpoints. Each checkpoint
// is written with pseudo-random weights, loaded with load_model and run with
// the Transformer. Its logits are compared with a naive forward pass in
// double precision, written here after Hugging Face's LlamaForCausalLM,
// MistralForCausalLM and Qwen2ForCausalLM. Checkpoints that break the
// loader's rules must fail with errors naming the problem.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "checkpoint_writer.h"
#include "optiq/core/error.h"
#include "optiq/model/forward.h"
#include "optiq/model/model.h"
#include "test_support.h"

namespace optiq {
namespace {

using testing::CheckpointSpec;
using testing::CheckpointTensors;
using Logits = std::vector<double>;  // [tokens, vocab]

const std::vector<int32_t> kTokens = {1, 17, 42, 5, 63, 8};

// Options of the reference forward that the tests switch off to show that a
// feature changes the logits (so its check can fail).
struct ReferenceOptions {
  bool rope_scaling = true;
  bool sliding_window = true;
};

// RoPE inverse frequencies theta^(-2i/d) with Hugging Face's "linear" and
// "llama3" scaling (_compute_linear_scaling_rope_parameters and
// _compute_llama3_parameters in transformers' modeling_rope_utils.py).
std::vector<double> reference_frequencies(const CheckpointSpec& spec,
                                          bool apply_scaling) {
  const int64_t head_dim = spec.effective_head_dim();
  std::vector<double> frequencies;
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    frequencies.push_back(
        std::pow(spec.rope_theta, -static_cast<double>(2 * i) / head_dim));
  }
  const nlohmann::json& scaling = spec.rope_scaling;
  if (!apply_scaling || scaling.is_null()) return frequencies;
  const std::string type =
      scaling.value("rope_type", scaling.value("type", std::string("default")));
  const double factor = scaling.value("factor", 1.0);
  if (type == "linear") {
    for (double& f : frequencies) f /= factor;
  } else if (type == "llama3") {
    const double low = scaling.value("low_freq_factor", 1.0);
    const double high = scaling.value("high_freq_factor", 4.0);
    const double original =
        scaling.value("original_max_position_embeddings", 8192.0);
    for (double& f : frequencies) {
      const double wavelength = 2.0 * std::numbers::pi / f;
      const double scaled = wavelength > original / low ? f / factor : f;
      const double smooth = (original / wavelength - low) / (high - low);
      const bool medium =
          !(wavelength < original / high) && !(wavelength > original / low);
      f = medium ? (1.0 - smooth) * scaled / factor + smooth * scaled : scaled;
    }
  } else {
    ADD_FAILURE() << "reference has no rope type " << type;
  }
  return frequencies;
}

class ReferenceModel {
 public:
  ReferenceModel(const CheckpointSpec& spec, const CheckpointTensors& tensors,
                 ReferenceOptions options = {})
      : spec_(spec),
        tensors_(tensors),
        options_(options),
        head_dim_(spec.effective_head_dim()),
        frequencies_(reference_frequencies(spec, options.rope_scaling)) {}

  Logits forward(const std::vector<int32_t>& tokens) const {
    const int64_t n = static_cast<int64_t>(tokens.size());
    const int64_t hidden = spec_.hidden;
    std::vector<std::vector<double>> x;
    for (int32_t token : tokens) {
      const auto& embedding = values("model.embed_tokens.weight");
      x.emplace_back(embedding.begin() + token * hidden,
                     embedding.begin() + (token + 1) * hidden);
    }
    for (int64_t layer = 0; layer < spec_.n_layers; ++layer) {
      run_layer(fmt::format("model.layers.{}.", layer), x);
    }
    const std::string output =
        spec_.tied_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
    Logits logits;
    for (int64_t t = 0; t < n; ++t) {
      const std::vector<double> h = rms_norm(x[t], "model.norm.weight");
      const std::vector<double> row = linear(output, h, spec_.vocab);
      logits.insert(logits.end(), row.begin(), row.end());
    }
    return logits;
  }

 private:
  const std::vector<float>& values(const std::string& name) const {
    return tensors_.at(name).values;
  }

  std::vector<double> rms_norm(const std::vector<double>& x,
                               const std::string& weight) const {
    double sum = 0;
    for (double v : x) sum += v * v;
    const double scale =
        1.0 / std::sqrt(sum / static_cast<double>(x.size()) + spec_.norm_eps);
    std::vector<double> out(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      out[i] = x[i] * scale * values(weight)[i];
    }
    return out;
  }

  // y = W x (+ b) with W stored [rows, x.size()].
  std::vector<double> linear(const std::string& weight,
                             const std::vector<double>& x, int64_t rows,
                             const std::string& bias = "") const {
    const auto& w = values(weight);
    std::vector<double> y(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      double sum = bias.empty() ? 0.0 : values(bias)[r];
      for (size_t c = 0; c < x.size(); ++c) sum += w[r * x.size() + c] * x[c];
      y[r] = sum;
    }
    return y;
  }

  // Hugging Face's rotate_half layout: dimension i pairs with i + d/2.
  void rope(std::vector<double>& x, int64_t heads, int64_t position) const {
    const int64_t half = head_dim_ / 2;
    for (int64_t h = 0; h < heads; ++h) {
      double* head = x.data() + h * head_dim_;
      for (int64_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(position) * frequencies_[i];
        const double a = head[i];
        const double b = head[i + half];
        head[i] = a * std::cos(angle) - b * std::sin(angle);
        head[i + half] = a * std::sin(angle) + b * std::cos(angle);
      }
    }
  }

  void run_layer(const std::string& prefix,
                 std::vector<std::vector<double>>& x) const {
    const int64_t n = static_cast<int64_t>(x.size());
    const int64_t q_dim = spec_.n_heads * head_dim_;
    const int64_t kv_dim = spec_.n_kv_heads * head_dim_;
    const auto bias = [&](const char* projection) {
      return spec_.qkv_bias ? prefix + "self_attn." + projection + ".bias"
                            : std::string();
    };
    std::vector<std::vector<double>> q(n), k(n), v(n);
    for (int64_t t = 0; t < n; ++t) {
      const auto h = rms_norm(x[t], prefix + "input_layernorm.weight");
      q[t] =
          linear(prefix + "self_attn.q_proj.weight", h, q_dim, bias("q_proj"));
      k[t] =
          linear(prefix + "self_attn.k_proj.weight", h, kv_dim, bias("k_proj"));
      v[t] =
          linear(prefix + "self_attn.v_proj.weight", h, kv_dim, bias("v_proj"));
      rope(q[t], spec_.n_heads, t);
      rope(k[t], spec_.n_kv_heads, t);
    }
    const int64_t window =
        options_.sliding_window ? spec_.sliding_window : int64_t{0};
    const int64_t group = spec_.n_heads / spec_.n_kv_heads;
    for (int64_t t = 0; t < n; ++t) {
      std::vector<double> attended(static_cast<size_t>(q_dim), 0.0);
      // Causal mask; a sliding window of W keeps keys t - W + 1 .. t.
      const int64_t first =
          window > 0 ? std::max<int64_t>(0, t - window + 1) : 0;
      for (int64_t h = 0; h < spec_.n_heads; ++h) {
        const int64_t kv_offset = (h / group) * head_dim_;
        std::vector<double> scores;
        for (int64_t p = first; p <= t; ++p) {
          double dot = 0;
          for (int64_t i = 0; i < head_dim_; ++i) {
            dot += q[t][h * head_dim_ + i] * k[p][kv_offset + i];
          }
          scores.push_back(dot / std::sqrt(static_cast<double>(head_dim_)));
        }
        const double top = *std::max_element(scores.begin(), scores.end());
        double total = 0;
        for (double& s : scores) total += (s = std::exp(s - top));
        for (int64_t p = first; p <= t; ++p) {
          const double weight = scores[p - first] / total;
          for (int64_t i = 0; i < head_dim_; ++i) {
            attended[h * head_dim_ + i] += weight * v[p][kv_offset + i];
          }
        }
      }
      const auto o =
          linear(prefix + "self_attn.o_proj.weight", attended, spec_.hidden);
      for (int64_t i = 0; i < spec_.hidden; ++i) x[t][i] += o[i];

      const auto h2 =
          rms_norm(x[t], prefix + "post_attention_layernorm.weight");
      const auto gate =
          linear(prefix + "mlp.gate_proj.weight", h2, spec_.intermediate);
      const auto up =
          linear(prefix + "mlp.up_proj.weight", h2, spec_.intermediate);
      std::vector<double> act(gate.size());
      for (size_t i = 0; i < gate.size(); ++i) {
        act[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];  // SiLU(g) u
      }
      const auto down =
          linear(prefix + "mlp.down_proj.weight", act, spec_.hidden);
      for (int64_t i = 0; i < spec_.hidden; ++i) x[t][i] += down[i];
    }
  }

  const CheckpointSpec& spec_;
  const CheckpointTensors& tensors_;
  ReferenceOptions options_;
  int64_t head_dim_;
  std::vector<double> frequencies_;
};

Logits optiq_logits(const Model& model, const std::vector<int32_t>& tokens) {
  Transformer transformer(model);
  KVCache cache(model.config, static_cast<int64_t>(tokens.size()));
  std::vector<float> logits;
  transformer.forward(tokens, cache, logits);
  return Logits(logits.begin(), logits.end());
}

double max_difference(const Logits& a, const Logits& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    worst = std::max(worst, std::abs(a[i] - b[i]));
  }
  return worst;
}

double max_magnitude(const Logits& logits) {
  double top = 0;
  for (double value : logits) top = std::max(top, std::abs(value));
  return top;
}

// optiq's float32 forward pass differs from the double reference by about
// 5e-7 on these models, whose logits reach about 2. A wrong RoPE pairing
// changes the logits by 0.1 or more.
constexpr double kTolerance = 1e-5;

// Loads the checkpoint in `directory`, checks that every logit is finite
// and matches the reference, and returns optiq's logits.
Logits expect_matches_reference(const std::filesystem::path& directory,
                                const CheckpointSpec& spec,
                                const CheckpointTensors& tensors) {
  const Model model = load_model(directory);
  EXPECT_EQ(model.config.head_dim, spec.effective_head_dim());
  const Logits logits = optiq_logits(model, kTokens);
  EXPECT_EQ(logits.size(), kTokens.size() * static_cast<size_t>(spec.vocab));
  EXPECT_TRUE(std::all_of(logits.begin(), logits.end(),
                          [](double v) { return std::isfinite(v); }));
  const Logits expected = ReferenceModel(spec, tensors).forward(kTokens);
  // Logits of order one, so the comparison is meaningful.
  EXPECT_GT(max_magnitude(expected), 0.1);
  EXPECT_LT(max_difference(logits, expected), kTolerance);
  return logits;
}

Logits check_variant(const CheckpointSpec& spec) {
  testing::ScratchDir scratch;
  const CheckpointTensors tensors =
      testing::write_checkpoint(scratch / "model", spec);
  return expect_matches_reference(scratch / "model", spec, tensors);
}

std::string load_error(const std::filesystem::path& directory) {
  try {
    load_model(directory);
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "no error loading " << directory;
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ModelVariants, LlamaGqaUntied) {
  CheckpointSpec spec;
  spec.n_heads = 4;
  spec.n_kv_heads = 2;
  check_variant(spec);
}

TEST(ModelVariants, LlamaTiedIgnoresStoredLmHead) {
  CheckpointSpec spec;
  spec.tied_embeddings = true;
  spec.stray_lm_head = true;
  testing::ScratchDir scratch;
  const CheckpointTensors tensors =
      testing::write_checkpoint(scratch / "model", spec);
  const Logits logits =
      expect_matches_reference(scratch / "model", spec, tensors);
  // Using the stored lm_head.weight instead would change the logits.
  CheckpointSpec untied = spec;
  untied.tied_embeddings = false;
  const Logits with_lm_head = ReferenceModel(untied, tensors).forward(kTokens);
  EXPECT_GT(max_difference(logits, with_lm_head), 100 * kTolerance);
}

TEST(ModelVariants, LlamaHeadDimNotHiddenOverHeads) {
  CheckpointSpec spec;
  spec.hidden = 32;
  spec.n_heads = 4;
  spec.n_kv_heads = 2;
  spec.head_dim = 16;  // q_proj is [64, 32]
  check_variant(spec);
}

// Checks a rope_scaling variant and that the scaling changes the logits.
void check_rope_scaling(const nlohmann::json& rope_scaling) {
  CheckpointSpec spec;
  spec.head_dim = 8;
  spec.rope_scaling = rope_scaling;
  testing::ScratchDir scratch;
  const CheckpointTensors tensors =
      testing::write_checkpoint(scratch / "model", spec);
  const Logits logits =
      expect_matches_reference(scratch / "model", spec, tensors);
  const Logits unscaled =
      ReferenceModel(spec, tensors, {.rope_scaling = false}).forward(kTokens);
  EXPECT_GT(max_difference(logits, unscaled), 100 * kTolerance)
      << rope_scaling.dump();
}

TEST(ModelVariants, RopeScalingLlama3) {
  // With head_dim 8 and theta 10000 the wavelengths are 6.3, 63, 628 and
  // 6283 positions. original_max_position_embeddings 64 puts them in the
  // high, medium, low and low bands.
  check_rope_scaling({{"rope_type", "llama3"},
                      {"factor", 8.0},
                      {"low_freq_factor", 1.0},
                      {"high_freq_factor", 4.0},
                      {"original_max_position_embeddings", 64}});
}

TEST(ModelVariants, RopeScalingLinearRopeTypeKey) {
  check_rope_scaling({{"rope_type", "linear"}, {"factor", 4.0}});
}

TEST(ModelVariants, RopeScalingLinearTypeKey) {
  check_rope_scaling({{"type", "linear"}, {"factor", 4.0}});
}

TEST(ModelVariants, MistralSlidingWindow) {
  CheckpointSpec spec;
  spec.architecture = "MistralForCausalLM";
  spec.sliding_window = 3;  // shorter than the 6 test tokens
  testing::ScratchDir scratch;
  const CheckpointTensors tensors =
      testing::write_checkpoint(scratch / "model", spec);
  const Logits logits =
      expect_matches_reference(scratch / "model", spec, tensors);
  const Logits full_attention =
      ReferenceModel(spec, tensors, {.sliding_window = false}).forward(kTokens);
  EXPECT_GT(max_difference(logits, full_attention), 100 * kTolerance);
}

TEST(ModelVariants, Qwen2BiasAndTiedEmbeddings) {
  CheckpointSpec spec;
  spec.architecture = "Qwen2ForCausalLM";
  spec.qkv_bias = true;
  spec.tied_embeddings = true;
  testing::ScratchDir scratch;
  const CheckpointTensors tensors =
      testing::write_checkpoint(scratch / "model", spec);
  const Logits logits =
      expect_matches_reference(scratch / "model", spec, tensors);
  CheckpointSpec without_bias = spec;
  without_bias.qkv_bias = false;
  const Logits unbiased =
      ReferenceModel(without_bias, tensors).forward(kTokens);
  EXPECT_GT(max_difference(logits, unbiased), 100 * kTolerance);
}

TEST(ModelVariants, LlamaAttentionBias) {
  CheckpointSpec spec;
  spec.qkv_bias = true;  // "attention_bias": true in config.json
  check_variant(spec);
}

TEST(ModelVariants, Bfloat16Weights) {
  CheckpointSpec spec;
  spec.dtype = DType::BF16;
  check_variant(spec);
}

TEST(ModelVariants, Float16Weights) {
  CheckpointSpec spec;
  spec.dtype = DType::F16;
  check_variant(spec);
}

TEST(ModelVariants, ShardedWithIndex) {
  CheckpointSpec spec;
  testing::ScratchDir scratch;
  const CheckpointTensors tensors =
      testing::write_sharded_checkpoint(scratch / "model", spec, 3);
  const Logits sharded =
      expect_matches_reference(scratch / "model", spec, tensors);
  // The same weights in one file give the same logits bit for bit.
  testing::write_checkpoint(scratch / "single", spec);
  const Logits single = optiq_logits(load_model(scratch / "single"), kTokens);
  EXPECT_EQ(sharded, single);
}

TEST(ModelVariants, ShardedIgnoresStraySafetensors) {
  CheckpointSpec spec;
  testing::ScratchDir scratch;
  const CheckpointTensors tensors =
      testing::write_sharded_checkpoint(scratch / "model", spec, 2);
  // A file the index does not name, holding a conflicting final norm.
  testing::CheckpointTensors stray;
  stray["model.norm.weight"] = {{spec.hidden},
                                std::vector<float>(spec.hidden, 5.0f)};
  testing::write_tensors(scratch / "model" / "stray.safetensors", stray,
                         DType::F32);
  expect_matches_reference(scratch / "model", spec, tensors);
}

TEST(ModelVariants, MissingShardIsError) {
  CheckpointSpec spec;
  testing::ScratchDir scratch;
  testing::write_sharded_checkpoint(scratch / "model", spec, 3);
  const std::string missing = testing::shard_name(1, 3);
  std::filesystem::remove(scratch / "model" / missing);
  const std::string message = load_error(scratch / "model");
  EXPECT_TRUE(contains(message, missing)) << message;
  EXPECT_TRUE(contains(message, "not found")) << message;
}

TEST(ModelVariants, IndexNamesTensorShardLacksIsError) {
  CheckpointSpec spec;
  testing::ScratchDir scratch;
  testing::write_sharded_checkpoint(scratch / "model", spec, 2);
  const std::filesystem::path index_path =
      scratch / "model" / "model.safetensors.index.json";
  nlohmann::json index = nlohmann::json::parse(testing::read_text(index_path));
  const std::string tensor = "model.norm.weight";
  const std::string shard = index["weight_map"][tensor];
  const std::string other = shard == testing::shard_name(0, 2)
                                ? testing::shard_name(1, 2)
                                : testing::shard_name(0, 2);
  index["weight_map"][tensor] = other;
  std::ofstream(index_path) << index.dump();
  const std::string message = load_error(scratch / "model");
  EXPECT_TRUE(contains(message, tensor)) << message;
  EXPECT_TRUE(contains(message, other)) << message;
}

TEST(ModelVariants, ShapeMismatchIsError) {
  CheckpointSpec spec;  // kv_dim = 2 heads * 8 = 16, hidden 32
  testing::ScratchDir scratch;
  testing::write_checkpoint(scratch / "model", spec);
  CheckpointTensors tensors = testing::checkpoint_tensors(spec);
  const std::string name = "model.layers.1.self_attn.k_proj.weight";
  tensors[name] = {{18, 32}, std::vector<float>(18 * 32, 0.01f)};
  testing::write_tensors(scratch / "model" / "model.safetensors", tensors,
                         spec.dtype);
  const std::string message = load_error(scratch / "model");
  EXPECT_TRUE(contains(message, name)) << message;
  EXPECT_TRUE(contains(message, "[18, 32]")) << message;
  EXPECT_TRUE(contains(message, "[16, 32]")) << message;
}

TEST(ModelVariants, MissingTensorIsError) {
  CheckpointSpec spec;
  testing::ScratchDir scratch;
  testing::write_checkpoint(scratch / "model", spec);
  CheckpointTensors tensors = testing::checkpoint_tensors(spec);
  tensors.erase("lm_head.weight");
  testing::write_tensors(scratch / "model" / "model.safetensors", tensors,
                         spec.dtype);
  const std::string message = load_error(scratch / "model");
  EXPECT_TRUE(contains(message, "lm_head.weight")) << message;
}

TEST(ModelVariants, UnsupportedRopeScalingIsError) {
  CheckpointSpec spec;
  spec.rope_scaling = {{"rope_type", "yarn"}, {"factor", 4.0}};
  testing::ScratchDir scratch;
  testing::write_checkpoint(scratch / "model", spec);
  const std::string message = load_error(scratch / "model");
  EXPECT_TRUE(contains(message, "rope_scaling")) << message;
  EXPECT_TRUE(contains(message, "'yarn'")) << message;
}

TEST(ModelVariants, UnsupportedArchitectureIsError) {
  CheckpointSpec spec;
  spec.architecture = "GPTNeoXForCausalLM";
  testing::ScratchDir scratch;
  testing::write_checkpoint(scratch / "model", spec);
  const std::string message = load_error(scratch / "model");
  EXPECT_TRUE(contains(message, "architecture")) << message;
  EXPECT_TRUE(contains(message, "'GPTNeoXForCausalLM'")) << message;
}

}  // namespace
}  // namespace optiq
