// Architecture description of a decoder-only Llama-family transformer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "optiq/core/dtype.h"

namespace optiq {

// How RoPE pairs the dimensions of a head: Hugging Face rotates the two
// halves (i, i + d/2); llama2.c and GGUF-llama rotate adjacent pairs (2i, 2i+1).
enum class RopeLayout { kHalves, kInterleaved };

struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3 };
  Type type = Type::kNone;
  double factor = 1.0;
  // llama3 only.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position = 8192;
};

struct ModelConfig {
  std::string architecture;  // "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"
  int64_t hidden = 0;
  int64_t intermediate = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab = 0;
  int64_t max_positions = 0;
  int64_t sliding_window = 0;  // 0: none
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  RopeLayout rope_layout = RopeLayout::kHalves;
  bool tied_embeddings = false;
  bool qkv_bias = false;
  DType dtype = DType::F32;  // dtype the weights are stored in
  int32_t bos_id = 1;
  int32_t eos_id = 2;

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
};

// Parses and validates a Hugging Face config.json. Throws optiq::Error naming
// the file, the key and the value for anything unsupported.
ModelConfig parse_hf_config(const std::filesystem::path& config_json);

// Checks the dimensions for consistency (positive, heads divide, ...).
void validate_config(const ModelConfig& config, const std::string& source);

}  // namespace optiq
