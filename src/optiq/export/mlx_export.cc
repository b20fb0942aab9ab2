#include "optiq/export/mlx_export.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <fstream>
#include <list>
#include <nlohmann/json.hpp>

#include "optiq/core/error.h"
#include "optiq/export/apply_plan.h"
#include "optiq/core/progress.h"
#include "optiq/io/atomic_output.h"
#include "optiq/io/safetensors.h"
#include "optiq/model/rope_permute.h"
#include "optiq/profile/profiler.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace optiq {
namespace {

// Owns the bytes of every tensor until the safetensors file is written.
class TensorList {
 public:
  void add_floats(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values,
                  DType dtype) {
    std::vector<uint8_t> bytes(values.size() * dtype_size(dtype));
    convert_from_float(dtype, values.data(), bytes.data(), values.size());
    add_bytes(name, dtype, std::move(shape), std::move(bytes));
  }
  void add_bytes(const std::string& name, DType dtype, std::vector<int64_t> shape,
                 std::vector<uint8_t> bytes) {
    total_ += bytes.size();
    storage_.push_back(std::move(bytes));
    tensors_.push_back({name, dtype, std::move(shape), storage_.back().data()});
  }
  const std::vector<TensorToWrite>& tensors() const { return tensors_; }
  uint64_t total_bytes() const { return total_; }

 private:
  std::list<std::vector<uint8_t>> storage_;  // stable addresses
  std::vector<TensorToWrite> tensors_;
  uint64_t total_ = 0;
};

// Heads of a q or k projection in layer modules, 0 for other modules.
int64_t rope_heads(const ModelConfig& c, const std::string& module) {
  if (module.ends_with("self_attn.q_proj")) return c.n_heads;
  if (module.ends_with("self_attn.k_proj")) return c.n_kv_heads;
  return 0;
}

json base_config(const Model& model, DType output_dtype) {
  const ModelConfig& c = model.config;
  json config;
  fs::path source_config = model.source / "config.json";
  std::error_code ec;
  if (model.source_kind != "llama2.c" && fs::exists(source_config, ec)) {
    std::ifstream stream(source_config);
    config = json::parse(stream, nullptr, /*allow_exceptions=*/false);
    if (!config.is_object()) fail("{}: invalid JSON", source_config.string());
    config.erase("quantization");
    config.erase("quantization_config");
  } else {
    config = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"},
              {"hidden_size", c.hidden}, {"intermediate_size", c.intermediate},
              {"num_hidden_layers", c.n_layers}, {"num_attention_heads", c.n_heads},
              {"num_key_value_heads", c.n_kv_heads}, {"head_dim", c.head_dim},
              {"vocab_size", c.vocab}, {"max_position_embeddings", c.max_positions},
              {"rms_norm_eps", c.norm_eps}, {"rope_theta", c.rope_theta},
              {"tie_word_embeddings", c.tied_embeddings}, {"hidden_act", "silu"},
              {"bos_token_id", c.bos_id}, {"eos_token_id", c.eos_id}};
  }
  config["torch_dtype"] = output_dtype == DType::BF16 ? "bfloat16" : "float16";
  return config;
}

// The most common affine format by parameter count becomes the default.
json quantization_config(const Plan& plan) {
  std::map<std::string, int64_t> weight;
  for (const PlanEntry& e : plan.entries) {
    if (e.format.kind == QuantFormat::Kind::kAffine) weight[e.format.name()] += e.target.rows * e.target.cols;
  }
  AffineFormat fallback{4, 64};
  std::string best;
  for (const auto& [name, count] : weight) {
    if (best.empty() || count > weight[best]) best = name;
  }
  AffineFormat defaults = best.empty() ? fallback : QuantFormat::parse(best).affine;
  json q = {{"group_size", defaults.group_size}, {"bits", defaults.bits}};
  for (const PlanEntry& e : plan.entries) {
    if (e.format.kind != QuantFormat::Kind::kAffine) {
      q[e.target.module] = false;
    } else if (e.format.affine.bits != defaults.bits ||
               e.format.affine.group_size != defaults.group_size) {
      q[e.target.module] = {{"group_size", e.format.affine.group_size}, {"bits", e.format.affine.bits}};
    }
  }
  return q;
}

void copy_tokenizer_files(const Model& model, const MlxExportOptions& options, const fs::path& dir) {
  std::error_code ec;
  if (model.source_kind == "llama2.c") {
    if (options.tokenizer.empty()) fail("exporting a llama2.c checkpoint needs its tokenizer (--tokenizer)");
    fs::copy_file(options.tokenizer, dir / "tokenizer.bin", ec);
    if (ec) fail("cannot copy tokenizer '{}': {}", options.tokenizer.string(), ec.message());
    json tokenizer_config = {{"add_bos_token", true}, {"add_eos_token", false}};
    std::ofstream(dir / "tokenizer_config.json") << tokenizer_config.dump(2) << "\n";
    return;
  }
  for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                           "special_tokens_map.json", "generation_config.json", "tokenizer.bin"}) {
    fs::path from = model.source / name;
    if (fs::exists(from, ec)) {
      fs::copy_file(from, dir / name, ec);
      if (ec) fail("cannot copy '{}': {}", from.string(), ec.message());
    }
  }
}

}  // namespace

MlxExportSummary export_mlx(const Model& model, const Plan& plan, const fs::path& output,
                            const MlxExportOptions& options) {
  const ModelConfig& c = model.config;
  const DType output_dtype = plan.output_dtype;
  const DType scale_dtype = plan.scale_dtype;
  AtomicOutput folder(output, /*is_directory=*/true);
  const fs::path dir = folder.temporary_path();
  MlxExportSummary summary;
  TensorList list;

  Progress progress("quantize", static_cast<int64_t>(plan.entries.size()), "tensor");
  bool wrote_embedding = false;
  for (const PlanEntry& entry : plan.entries) {
    const Matrix& matrix = planned_matrix(model, entry.target.module);
    const std::string& module = entry.target.module;
    if (matrix.rows() != entry.target.rows || matrix.cols() != entry.target.cols) {
      fail("plan gives '{}' shape [{}, {}] but the model has [{}, {}]", module, entry.target.rows,
           entry.target.cols, matrix.rows(), matrix.cols());
    }
    if (!entry.format.applies_to(matrix.cols())) {
      fail("plan format {} does not apply to '{}' with {} inputs", entry.format.name(), module,
           matrix.cols());
    }
    std::vector<float> weights = checked_weights(matrix, module);
    if (c.rope_layout == RopeLayout::kInterleaved && rope_heads(c, module) > 0) {
      weights = interleaved_to_halves(weights, matrix.rows(), matrix.cols(), rope_heads(c, module));
    }
    const std::vector<int64_t> shape = {matrix.rows(), matrix.cols()};
    if (entry.format.kind == QuantFormat::Kind::kAffine) {
      const float* importance = nullptr;
      if (options.importance) {
        auto found = options.importance->find(module);
        if (found != options.importance->end() && static_cast<int64_t>(found->second.size()) == matrix.cols()) {
          importance = found->second.data();
        }
      }
      AffineOptions affine_options;
      affine_options.search_clipping = true;
      affine_options.importance = importance;
      AffineQuantized q = quantize_affine(weights.data(), matrix.rows(), matrix.cols(),
                                          entry.format.affine, scale_dtype, affine_options);
      const int64_t groups = matrix.cols() / entry.format.affine.group_size;
      std::vector<uint8_t> packed(q.packed.size() * sizeof(uint32_t));
      std::memcpy(packed.data(), q.packed.data(), packed.size());
      list.add_bytes(module + ".weight", DType::U32,
                     {matrix.rows(), matrix.cols() * entry.format.affine.bits / 32}, std::move(packed));
      list.add_bytes(module + ".scales", scale_dtype, {matrix.rows(), groups}, std::move(q.scales));
      list.add_bytes(module + ".biases", scale_dtype, {matrix.rows(), groups}, std::move(q.biases));
      ++summary.quantized_modules;
    } else if (entry.format.kind == QuantFormat::Kind::kFloat) {
      list.add_floats(module + ".weight", shape, weights, entry.format.float_dtype);
      ++summary.float_modules;
    } else {
      fail("format {} of '{}' cannot be written to an MLX folder (use --format gguf)",
           entry.format.name(), module);
    }
    if (module == "model.embed_tokens") wrote_embedding = true;
    progress.advance(1, fmt::format("{} [{}, {}] {}", module, matrix.rows(), matrix.cols(),
                                    entry.format.name()));
  }

  // Everything the plan does not cover, in the output dtype.
  if (!wrote_embedding) {
    list.add_floats("model.embed_tokens.weight", {c.vocab, c.hidden},
                    checked_weights(model.embedding, "model.embed_tokens"), output_dtype);
  }
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& layer = model.layers[l];
    std::string prefix = fmt::format("model.layers.{}.", l);
    list.add_floats(prefix + "input_layernorm.weight", {c.hidden}, layer.attn_norm, output_dtype);
    list.add_floats(prefix + "post_attention_layernorm.weight", {c.hidden}, layer.ffn_norm, output_dtype);
    if (!layer.q_bias.empty()) {
      list.add_floats(prefix + "self_attn.q_proj.bias", {c.q_dim()}, layer.q_bias, output_dtype);
      list.add_floats(prefix + "self_attn.k_proj.bias", {c.kv_dim()}, layer.k_bias, output_dtype);
      list.add_floats(prefix + "self_attn.v_proj.bias", {c.kv_dim()}, layer.v_bias, output_dtype);
    }
  }
  list.add_floats("model.norm.weight", {c.hidden}, model.final_norm, output_dtype);

  write_safetensors(dir / "model.safetensors", list.tensors(), {{"format", "mlx"}});
  json config = base_config(model, output_dtype);
  json quantization = quantization_config(plan);
  config["quantization"] = quantization;
  config["quantization_config"] = quantization;
  std::ofstream(dir / "config.json") << config.dump(2) << "\n";
  copy_tokenizer_files(model, options, dir);
  if (options.write_plan) write_plan(dir / "optiq_plan.json", plan);

  summary.tensor_bytes = list.total_bytes();
  summary.file_bytes = fs::file_size(dir / "model.safetensors");
  folder.commit();
  return summary;
}

}  // namespace optiq
