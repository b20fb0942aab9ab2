#include "checkpoint_writer.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include "optiq/io/safetensors.h"

namespace fs = std::filesystem;

namespace optiq::testing {
namespace {

// SplitMix64, a small generator whose output does not depend on the
// standard library (std::uniform_* distributions differ between libraries).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [-1, 1), from the top 24 bits.
  float symmetric() {
    return static_cast<float>(next() >> 40) / static_cast<float>(1 << 23) -
           1.0f;
  }

 private:
  uint64_t state_;
};

// Rounds `values` to `dtype` and back, so the returned values are exactly
// what a reader of the file gets.
std::vector<float> round_to(DType dtype, const std::vector<float>& values) {
  std::vector<uint8_t> stored(values.size() * dtype_size(dtype));
  convert_from_float(dtype, values.data(), stored.data(), values.size());
  std::vector<float> rounded(values.size());
  convert_to_float(dtype, stored.data(), rounded.data(), values.size());
  return rounded;
}

class TensorMaker {
 public:
  TensorMaker(const CheckpointSpec& spec, CheckpointTensors& tensors)
      : spec_(spec), tensors_(tensors), random_(spec.seed) {}

  // A [rows, cols] weight with values in +-1/sqrt(cols).
  void matrix(const std::string& name, int64_t rows, int64_t cols) {
    add(name, {rows, cols}, 1.0f / std::sqrt(static_cast<float>(cols)), 0.0f);
  }
  // A norm weight with values in 1 +- 0.2.
  void norm(const std::string& name, int64_t size) {
    add(name, {size}, 0.2f, 1.0f);
  }
  // A bias with values in +-0.1.
  void bias(const std::string& name, int64_t size) {
    add(name, {size}, 0.1f, 0.0f);
  }

 private:
  void add(const std::string& name, std::vector<int64_t> shape, float scale,
           float offset) {
    int64_t count = 1;
    for (int64_t dim : shape) count *= dim;
    std::vector<float> values(static_cast<size_t>(count));
    for (float& value : values) value = offset + scale * random_.symmetric();
    tensors_[name] = {std::move(shape), round_to(spec_.dtype, values)};
  }

  const CheckpointSpec& spec_;
  CheckpointTensors& tensors_;
  SplitMix64 random_;
};

void write_config(const fs::path& directory, const CheckpointSpec& spec) {
  fs::create_directories(directory);
  std::ofstream(directory / "config.json") << checkpoint_config(spec).dump(2);
}

}  // namespace

nlohmann::json checkpoint_config(const CheckpointSpec& spec) {
  nlohmann::json config = {
      {"architectures", {spec.architecture}},
      {"hidden_act", "silu"},
      {"hidden_size", spec.hidden},
      {"intermediate_size", spec.intermediate},
      {"num_hidden_layers", spec.n_layers},
      {"num_attention_heads", spec.n_heads},
      {"num_key_value_heads", spec.n_kv_heads},
      {"vocab_size", spec.vocab},
      {"max_position_embeddings", 128},
      {"rms_norm_eps", spec.norm_eps},
      {"rope_theta", spec.rope_theta},
      {"tie_word_embeddings", spec.tied_embeddings},
      {"bos_token_id", 1},
      {"eos_token_id", 2},
  };
  if (spec.head_dim > 0) config["head_dim"] = spec.head_dim;
  if (spec.qkv_bias && spec.architecture != "Qwen2ForCausalLM") {
    config["attention_bias"] = true;
  }
  if (spec.sliding_window > 0) config["sliding_window"] = spec.sliding_window;
  if (!spec.rope_scaling.is_null()) config["rope_scaling"] = spec.rope_scaling;
  switch (spec.dtype) {
    case DType::BF16:
      config["torch_dtype"] = "bfloat16";
      break;
    case DType::F16:
      config["torch_dtype"] = "float16";
      break;
    default:
      config["torch_dtype"] = "float32";
      break;
  }
  return config;
}

CheckpointTensors checkpoint_tensors(const CheckpointSpec& spec) {
  CheckpointTensors tensors;
  TensorMaker maker(spec, tensors);
  const int64_t q_dim = spec.n_heads * spec.effective_head_dim();
  const int64_t kv_dim = spec.n_kv_heads * spec.effective_head_dim();
  maker.matrix("model.embed_tokens.weight", spec.vocab, spec.hidden);
  for (int64_t layer = 0; layer < spec.n_layers; ++layer) {
    const std::string prefix = fmt::format("model.layers.{}.", layer);
    maker.norm(prefix + "input_layernorm.weight", spec.hidden);
    maker.norm(prefix + "post_attention_layernorm.weight", spec.hidden);
    maker.matrix(prefix + "self_attn.q_proj.weight", q_dim, spec.hidden);
    maker.matrix(prefix + "self_attn.k_proj.weight", kv_dim, spec.hidden);
    maker.matrix(prefix + "self_attn.v_proj.weight", kv_dim, spec.hidden);
    maker.matrix(prefix + "self_attn.o_proj.weight", spec.hidden, q_dim);
    if (spec.qkv_bias) {
      maker.bias(prefix + "self_attn.q_proj.bias", q_dim);
      maker.bias(prefix + "self_attn.k_proj.bias", kv_dim);
      maker.bias(prefix + "self_attn.v_proj.bias", kv_dim);
    }
    maker.matrix(prefix + "mlp.gate_proj.weight", spec.intermediate,
                 spec.hidden);
    maker.matrix(prefix + "mlp.up_proj.weight", spec.intermediate, spec.hidden);
    maker.matrix(prefix + "mlp.down_proj.weight", spec.hidden,
                 spec.intermediate);
  }
  maker.norm("model.norm.weight", spec.hidden);
  if (!spec.tied_embeddings || spec.stray_lm_head) {
    maker.matrix("lm_head.weight", spec.vocab, spec.hidden);
  }
  return tensors;
}

void write_tensors(const fs::path& path, const CheckpointTensors& tensors,
                   DType dtype) {
  std::vector<std::vector<uint8_t>> buffers;
  std::vector<TensorToWrite> to_write;
  buffers.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    std::vector<uint8_t>& bytes =
        buffers.emplace_back(tensor.values.size() * dtype_size(dtype));
    convert_from_float(dtype, tensor.values.data(), bytes.data(),
                       tensor.values.size());
    to_write.push_back({name, dtype, tensor.shape, bytes.data()});
  }
  write_safetensors(path, to_write);
}

std::string shard_name(int index, int count) {
  return fmt::format("model-{:05d}-of-{:05d}.safetensors", index + 1, count);
}

CheckpointTensors write_checkpoint(const fs::path& directory,
                                   const CheckpointSpec& spec) {
  write_config(directory, spec);
  CheckpointTensors tensors = checkpoint_tensors(spec);
  write_tensors(directory / "model.safetensors", tensors, spec.dtype);
  return tensors;
}

CheckpointTensors write_sharded_checkpoint(const fs::path& directory,
                                           const CheckpointSpec& spec,
                                           int shard_count) {
  write_config(directory, spec);
  CheckpointTensors tensors = checkpoint_tensors(spec);
  std::vector<CheckpointTensors> shards(static_cast<size_t>(shard_count));
  nlohmann::json weight_map = nlohmann::json::object();
  int next = 0;
  for (const auto& [name, tensor] : tensors) {
    shards[static_cast<size_t>(next)][name] = tensor;
    weight_map[name] = shard_name(next, shard_count);
    next = (next + 1) % shard_count;
  }
  for (int i = 0; i < shard_count; ++i) {
    write_tensors(directory / shard_name(i, shard_count),
                  shards[static_cast<size_t>(i)], spec.dtype);
  }
  const nlohmann::json index = {{"metadata", nlohmann::json::object()},
                                {"weight_map", weight_map}};
  std::ofstream(directory / "model.safetensors.index.json") << index.dump(2);
  return tensors;
}

}  // namespace optiq::testing
