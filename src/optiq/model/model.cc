#include "optiq/model/model.h"

#include <fstream>
#include <string_view>

#include <fmt/format.h>

#include "optiq/core/error.h"

namespace fs = std::filesystem;

namespace optiq {

std::string projection_module(int64_t layer, Projection projection) {
  const char* suffix = "";
  switch (projection) {
    case Projection::kQ: suffix = "self_attn.q_proj"; break;
    case Projection::kK: suffix = "self_attn.k_proj"; break;
    case Projection::kV: suffix = "self_attn.v_proj"; break;
    case Projection::kO: suffix = "self_attn.o_proj"; break;
    case Projection::kGate: suffix = "mlp.gate_proj"; break;
    case Projection::kUp: suffix = "mlp.up_proj"; break;
    case Projection::kDown: suffix = "mlp.down_proj"; break;
  }
  return fmt::format("model.layers.{}.{}", layer, suffix);
}

Matrix& LayerWeights::projection(Projection p) {
  return const_cast<Matrix&>(static_cast<const LayerWeights*>(this)->projection(p));
}

const Matrix& LayerWeights::projection(Projection p) const {
  switch (p) {
    case Projection::kQ: return q;
    case Projection::kK: return k;
    case Projection::kV: return v;
    case Projection::kO: return o;
    case Projection::kGate: return gate;
    case Projection::kUp: return up;
    case Projection::kDown: return down;
  }
  OPTIQ_ASSERT(false);
  return q;
}

Model load_model(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_hf_model(path);
  if (!fs::exists(path, ec)) fail("model '{}' not found", path.string());
  if (path.extension() == ".safetensors") {
    fail("{}: a lone safetensors file has no config.json; pass the model folder instead",
         path.string());
  }
  if (is_gguf_file(path)) return load_gguf_model(path);
  return load_llama2c_model(path);
}

bool is_gguf_file(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  char magic[4] = {};
  return stream.read(magic, 4) && std::string_view(magic, 4) == "GGUF";
}

int64_t parameter_count(const Model& model) {
  int64_t count = model.embedding.numel() + static_cast<int64_t>(model.final_norm.size());
  if (!model.config.tied_embeddings) count += model.output.numel();
  for (const LayerWeights& layer : model.layers) {
    count += static_cast<int64_t>(layer.attn_norm.size() + layer.ffn_norm.size() +
                                  layer.q_bias.size() + layer.k_bias.size() + layer.v_bias.size());
    for (Projection p : kAllProjections) count += layer.projection(p).numel();
  }
  return count;
}

}  // namespace optiq
