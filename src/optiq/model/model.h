// Weights of a loaded model, in their stored formats, plus its config.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "optiq/model/config.h"
#include "optiq/model/matrix.h"

namespace optiq {

// The seven linear projections of a decoder layer, in a fixed order.
enum class Projection { kQ, kK, kV, kO, kGate, kUp, kDown };
inline constexpr int kProjectionCount = 7;
inline constexpr std::array<Projection, kProjectionCount> kAllProjections = {
    Projection::kQ, Projection::kK, Projection::kV, Projection::kO,
    Projection::kGate, Projection::kUp, Projection::kDown};

// Hugging Face module path of a projection in layer `layer`, without the
// ".weight" suffix, e.g. "model.layers.3.self_attn.q_proj".
std::string projection_module(int64_t layer, Projection projection);

struct LayerWeights {
  std::vector<float> attn_norm;  // [hidden]
  std::vector<float> ffn_norm;   // [hidden]
  Matrix q, k, v, o, gate, up, down;
  std::vector<float> q_bias, k_bias, v_bias;  // empty unless the model has q/k/v bias

  Matrix& projection(Projection p);
  const Matrix& projection(Projection p) const;
};

struct Model {
  ModelConfig config;
  Matrix embedding;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  std::vector<float> final_norm;  // [hidden]
  Matrix output;                  // [vocab, hidden]; shares storage with embedding when tied
  std::filesystem::path source;   // what it was loaded from
  std::string source_kind;        // "huggingface", "llama2.c", "mlx", "gguf"
  // Quantization config found in the source (mlx), JSON text; empty if none.
  std::string quantization_json;
};

// Loads a Hugging Face folder (config.json + safetensors, sharded or not,
// including optiq's own MLX output), a GGUF file ("llama" or "qwen2") or a
// llama2.c checkpoint `.bin`.
// Throws optiq::Error naming the file, tensor or key on bad input.
Model load_model(const std::filesystem::path& path);

Model load_hf_model(const std::filesystem::path& directory);
Model load_llama2c_model(const std::filesystem::path& file);
Model load_gguf_model(const std::filesystem::path& file);

// Whether `path` is a readable file that starts with the GGUF magic.
bool is_gguf_file(const std::filesystem::path& path);

// Number of parameters (elements of every weight and norm vector).
int64_t parameter_count(const Model& model);

}  // namespace optiq
