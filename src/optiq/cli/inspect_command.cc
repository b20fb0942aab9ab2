// optiq inspect: validate every file of a model and list its tensors.
#include <fmt/ranges.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "optiq/cli/commands.h"
#include "optiq/core/error.h"
#include "optiq/io/gguf_file.h"
#include "optiq/io/safetensors.h"
#include "optiq/model/hf_tensors.h"
#include "optiq/model/model.h"
#include "optiq/quant/ggml_quant.h"

namespace fs = std::filesystem;

namespace optiq::cli {
namespace {

struct TensorRow {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;
  uint64_t bytes = 0;
  int64_t numel = 0;
};

struct Inventory {
  std::string kind;
  const ModelConfig* config = nullptr;
  std::vector<TensorRow> tensors;
};

TensorRow row_of(const TensorView& view) {
  return {view.name, view.shape, std::string(dtype_name(view.dtype)), view.nbytes, view.numel()};
}

void print_config(const ModelConfig& c) {
  std::printf("architecture    %s\n", c.architecture.c_str());
  std::printf("layers          %lld, hidden %lld, intermediate %lld\n", (long long)c.n_layers,
              (long long)c.hidden, (long long)c.intermediate);
  std::printf("heads           %lld query, %lld key/value, head_dim %lld\n", (long long)c.n_heads,
              (long long)c.n_kv_heads, (long long)c.head_dim);
  std::printf("vocabulary      %lld, context %lld\n", (long long)c.vocab, (long long)c.max_positions);
  std::printf("rope            theta %g, %s layout\n", c.rope_theta,
              c.rope_layout == RopeLayout::kHalves ? "halves" : "interleaved");
  std::printf("tied embeddings %s\n", c.tied_embeddings ? "yes" : "no");
}

nlohmann::json config_json(const ModelConfig& c) {
  return {{"architecture", c.architecture}, {"hidden_size", c.hidden},
          {"intermediate_size", c.intermediate}, {"num_hidden_layers", c.n_layers},
          {"num_attention_heads", c.n_heads}, {"num_key_value_heads", c.n_kv_heads},
          {"head_dim", c.head_dim}, {"vocab_size", c.vocab},
          {"max_position_embeddings", c.max_positions}, {"rope_theta", c.rope_theta},
          {"tie_word_embeddings", c.tied_embeddings}};
}

void run_inspect(const std::string& path_text, bool json) {
  fs::path path(path_text);
  std::error_code ec;
  if (!fs::exists(path, ec)) fail("'{}' not found", path_text);
  Inventory inventory;
  Model model;
  std::unique_ptr<SafetensorsFile> single;
  std::unique_ptr<HfTensorSet> set;
  if (fs::is_directory(path, ec)) {
    model = load_hf_model(path);  // validates config, shards and shapes
    set = std::make_unique<HfTensorSet>(path);
    inventory.kind = model.source_kind == "mlx" ? "MLX quantized Hugging Face folder"
                                                : "Hugging Face folder";
    inventory.config = &model.config;
    for (const auto& [name, entry] : set->entries()) inventory.tensors.push_back(row_of(*entry.view));
  } else if (path.extension() == ".safetensors") {
    single = std::make_unique<SafetensorsFile>(path);
    inventory.kind = "safetensors file";
    for (const TensorView& view : single->tensors()) inventory.tensors.push_back(row_of(view));
  } else if (is_gguf_file(path)) {
    model = load_gguf_model(path);  // validates metadata, shapes and types
    GgufFile file(path);
    inventory.kind = "GGUF file";
    inventory.config = &model.config;
    for (const GgufTensorInfo& t : file.tensors()) {
      std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
      inventory.tensors.push_back({t.name, shape,
                                   std::string(ggml_type_name(static_cast<GgmlType>(t.type))),
                                   t.nbytes, t.numel()});
    }
  } else {
    model = load_llama2c_model(path);
    inventory.kind = "llama2.c checkpoint";
    inventory.config = &model.config;
    auto add = [&](const Matrix& m) {
      inventory.tensors.push_back({m.name(), {m.rows(), m.cols()}, "F32", m.storage_bytes(), m.numel()});
    };
    add(model.embedding);
    for (const LayerWeights& layer : model.layers) {
      for (Projection p : kAllProjections) add(layer.projection(p));
    }
    if (!model.config.tied_embeddings) add(model.output);
  }

  int64_t params = 0;
  uint64_t bytes = 0;
  for (const TensorRow& t : inventory.tensors) {
    params += t.numel;
    bytes += t.bytes;
  }
  if (inventory.config != nullptr && inventory.kind == "llama2.c checkpoint") {
    params = parameter_count(model);
    bytes = static_cast<uint64_t>(params) * 4;
  }

  if (json) {
    nlohmann::json out = {{"path", path_text}, {"kind", inventory.kind},
                          {"parameters", params}, {"bytes", bytes}};
    if (inventory.config) out["config"] = config_json(*inventory.config);
    out["tensors"] = nlohmann::json::array();
    for (const TensorRow& t : inventory.tensors) {
      out["tensors"].push_back({{"name", t.name}, {"shape", t.shape}, {"dtype", t.dtype}, {"bytes", t.bytes}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("%s: %s, all files valid\n", path_text.c_str(), inventory.kind.c_str());
  if (inventory.config) print_config(*inventory.config);
  std::printf("\n%-56s %-16s %-6s %12s\n", "tensor", "shape", "dtype", "bytes");
  for (const TensorRow& t : inventory.tensors) {
    std::printf("%-56s %-16s %-6s %12llu\n", t.name.c_str(),
                fmt::format("[{}]", fmt::join(t.shape, ", ")).c_str(), t.dtype.c_str(),
                static_cast<unsigned long long>(t.bytes));
  }
  std::printf("\n%zu tensors, %lld parameters, %llu bytes (%.2f MB)\n", inventory.tensors.size(),
              static_cast<long long>(params), static_cast<unsigned long long>(bytes), bytes / 1e6);
}

}  // namespace

void register_inspect(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand(
      "inspect",
      "Validate a model (folder, safetensors file, GGUF file or llama2.c checkpoint) and list its "
      "tensors");
  command->add_option("model", *path, "Model folder, .safetensors file, .gguf file or llama2.c .bin")->required();
  command->add_flag("--json", *json, "Print the listing as JSON");
  command->callback([path, json] { run_inspect(*path, *json); });
}

}  // namespace optiq::cli
