// Loads a Hugging Face model folder: config.json plus safetensors weights.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "optiq/core/error.h"
#include "optiq/model/hf_tensors.h"
#include "optiq/model/model.h"
#include "optiq/model/quantized_storage.h"

namespace fs = std::filesystem;

namespace optiq {
namespace {

class WeightReader {
 public:
  WeightReader(const HfTensorSet& tensors, const fs::path& directory, const nlohmann::json& quantization)
      : tensors_(tensors), directory_(directory), quantization_(quantization) {}

  const HfTensorSet::Entry& require(const std::string& name) const {
    static thread_local HfTensorSet::Entry entry;
    entry = tensors_.find(name);
    if (entry.view == nullptr) fail("{}: tensor '{}' not found", directory_.string(), name);
    return entry;
  }

  void check_shape(const TensorView& view, const std::vector<int64_t>& expected) const {
    if (view.shape != expected) {
      fail("{}: tensor '{}' has shape [{}], expected [{}]", directory_.string(), view.name,
           fmt::join(view.shape, ", "), fmt::join(expected, ", "));
    }
    if (!is_float_dtype(view.dtype)) {
      fail("{}: tensor '{}' has dtype {}, expected F32, F16 or BF16", directory_.string(),
           view.name, dtype_name(view.dtype));
    }
  }

  std::vector<float> vector(const std::string& name, int64_t size) const {
    HfTensorSet::Entry entry = require(name);
    check_shape(*entry.view, {size});
    std::vector<float> values(static_cast<size_t>(size));
    convert_to_float(entry.view->dtype, entry.view->data, values.data(), values.size());
    return values;
  }

  // `module` is the path without ".weight"; a module stored with MLX affine
  // quantization has .weight (packed), .scales and .biases.
  Matrix matrix(const std::string& module, int64_t rows, int64_t cols) const {
    std::string weight_name = module + ".weight";
    HfTensorSet::Entry entry = require(weight_name);
    HfTensorSet::Entry scales = tensors_.find(module + ".scales");
    if (scales.view != nullptr) {
      HfTensorSet::Entry biases = require(module + ".biases");
      return load_mlx_affine_matrix(module, rows, cols, *entry.view, *scales.view, *biases.view,
                                    entry.file, quantization_, directory_.string());
    }
    check_shape(*entry.view, {rows, cols});
    return Matrix::dense(weight_name, rows, cols, entry.view->dtype, entry.view->data, entry.file);
  }

  bool has(const std::string& name) const { return tensors_.find(name).view != nullptr; }

 private:
  const HfTensorSet& tensors_;
  const fs::path& directory_;
  const nlohmann::json& quantization_;
};

nlohmann::json read_quantization(const fs::path& config_path) {
  std::ifstream stream(config_path);
  nlohmann::json root = nlohmann::json::parse(stream, nullptr, /*allow_exceptions=*/false);
  if (root.is_object()) {
    if (root.contains("quantization") && root["quantization"].is_object()) return root["quantization"];
    if (root.contains("quantization_config") && root["quantization_config"].is_object()) {
      return root["quantization_config"];
    }
  }
  return nlohmann::json();
}

}  // namespace

Model load_hf_model(const fs::path& directory) {
  fs::path config_path = directory / "config.json";
  std::error_code ec;
  if (!fs::exists(config_path, ec)) fail("{}: config.json not found", directory.string());
  Model model;
  model.config = parse_hf_config(config_path);
  model.source = directory;
  model.source_kind = "huggingface";
  const ModelConfig& c = model.config;

  nlohmann::json quantization = read_quantization(config_path);
  if (!quantization.is_null()) {
    model.source_kind = "mlx";
    model.quantization_json = quantization.dump();
  }

  HfTensorSet tensors(directory);
  WeightReader reader(tensors, directory, quantization);

  model.embedding = reader.matrix("model.embed_tokens", c.vocab, c.hidden);
  model.layers.resize(static_cast<size_t>(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    LayerWeights& layer = model.layers[static_cast<size_t>(i)];
    std::string prefix = fmt::format("model.layers.{}.", i);
    layer.attn_norm = reader.vector(prefix + "input_layernorm.weight", c.hidden);
    layer.ffn_norm = reader.vector(prefix + "post_attention_layernorm.weight", c.hidden);
    layer.q = reader.matrix(projection_module(i, Projection::kQ), c.q_dim(), c.hidden);
    layer.k = reader.matrix(projection_module(i, Projection::kK), c.kv_dim(), c.hidden);
    layer.v = reader.matrix(projection_module(i, Projection::kV), c.kv_dim(), c.hidden);
    layer.o = reader.matrix(projection_module(i, Projection::kO), c.hidden, c.q_dim());
    layer.gate = reader.matrix(projection_module(i, Projection::kGate), c.intermediate, c.hidden);
    layer.up = reader.matrix(projection_module(i, Projection::kUp), c.intermediate, c.hidden);
    layer.down = reader.matrix(projection_module(i, Projection::kDown), c.hidden, c.intermediate);
    if (c.qkv_bias) {
      layer.q_bias = reader.vector(projection_module(i, Projection::kQ) + ".bias", c.q_dim());
      layer.k_bias = reader.vector(projection_module(i, Projection::kK) + ".bias", c.kv_dim());
      layer.v_bias = reader.vector(projection_module(i, Projection::kV) + ".bias", c.kv_dim());
    }
  }
  model.final_norm = reader.vector("model.norm.weight", c.hidden);
  if (c.tied_embeddings) {
    if (reader.has("lm_head.weight")) {
      spdlog::warn("{}: tie_word_embeddings is true; ignoring the stored lm_head.weight",
                   directory.string());
    }
    model.output = Matrix("lm_head.weight", c.vocab, c.hidden, model.embedding.storage_ptr());
  } else {
    model.output = reader.matrix("lm_head", c.vocab, c.hidden);
  }
  return model;
}

}  // namespace optiq
