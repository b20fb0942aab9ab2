// Writes small Hugging Face checkpoints (config.json plus safetensors, whole
// or sharded with an index) with deterministic pseudo-random weights, for
// tests of the model loader and the forward pass.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "optiq/core/dtype.h"

namespace optiq::testing {

struct CheckpointSpec {
  // "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM" or any
  // other string (written as is, for rejection tests).
  std::string architecture = "LlamaForCausalLM";
  int64_t hidden = 32;
  int64_t intermediate = 48;
  int64_t n_layers = 2;
  int64_t n_heads = 4;
  int64_t n_kv_heads = 2;
  // 0: no "head_dim" key, so head_dim is hidden / n_heads.
  int64_t head_dim = 0;
  int64_t vocab = 64;
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  bool tied_embeddings = false;
  // Writes q/k/v_proj.bias tensors. Qwen2 always has them; for Llama the
  // config also gets "attention_bias": true.
  bool qkv_bias = false;
  // Also stores lm_head.weight when tied_embeddings is true (the loader
  // must ignore it).
  bool stray_lm_head = false;
  int64_t sliding_window = 0;  // 0: no "sliding_window" key
  DType dtype = DType::F32;    // F32, F16 or BF16
  // Written as "rope_scaling" when not null.
  nlohmann::json rope_scaling;
  uint64_t seed = 1;

  int64_t effective_head_dim() const {
    return head_dim > 0 ? head_dim : hidden / n_heads;
  }
};

// One tensor as written: PyTorch shape and the values after rounding to the
// checkpoint's dtype, widened back to float.
struct CheckpointTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

using CheckpointTensors = std::map<std::string, CheckpointTensor>;

// config.json contents for `spec`.
nlohmann::json checkpoint_config(const CheckpointSpec& spec);

// The weights of `spec` by Hugging Face tensor name. Values are uniform
// pseudo-random numbers scaled by 1/sqrt(fan_in) (norm weights near 1), from
// a generator seeded with spec.seed, so the same spec gives the same values
// on every platform.
CheckpointTensors checkpoint_tensors(const CheckpointSpec& spec);

// Writes config.json and model.safetensors into `directory` (created if
// needed) and returns the tensors as stored.
CheckpointTensors write_checkpoint(const std::filesystem::path& directory,
                                   const CheckpointSpec& spec);

// Writes config.json, `shard_count` files
// model-0000I-of-0000N.safetensors (tensors dealt out in name order) and
// model.safetensors.index.json, and returns the tensors as stored.
CheckpointTensors write_sharded_checkpoint(
    const std::filesystem::path& directory, const CheckpointSpec& spec,
    int shard_count);

// Writes `tensors` into one safetensors file in `dtype`.
void write_tensors(const std::filesystem::path& path,
                   const CheckpointTensors& tensors, DType dtype);

// Name of shard `index` (0-based) of `count` in Hugging Face's pattern.
std::string shard_name(int index, int count);

}  // namespace optiq::testing
