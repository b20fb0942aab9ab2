// optiq convert: llama2.c checkpoint -> Hugging Face folder.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "optiq/cli/commands.h"
#include "optiq/core/error.h"
#include "optiq/io/atomic_output.h"
#include "optiq/io/safetensors.h"
#include "optiq/model/model.h"
#include "optiq/model/rope_permute.h"
#include "optiq/tokenizer/llama2c_tokenizer.h"

namespace fs = std::filesystem;

namespace optiq::cli {
namespace {

void run_convert(const std::string& model_path, const std::string& tokenizer_path,
                 const std::string& output) {
  Model model = load_llama2c_model(model_path);
  Llama2cTokenizer tokenizer(tokenizer_path);  // validated before anything is written
  const ModelConfig& c = model.config;
  if (tokenizer.vocab_size() != c.vocab) {
    fail("{}: tokenizer has {} tokens but the model's vocabulary has {}", tokenizer_path,
         tokenizer.vocab_size(), c.vocab);
  }

  AtomicOutput folder(output, /*is_directory=*/true);
  const fs::path dir = folder.temporary_path();

  nlohmann::json config = {
      {"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"},
      {"hidden_size", c.hidden}, {"intermediate_size", c.intermediate},
      {"num_hidden_layers", c.n_layers}, {"num_attention_heads", c.n_heads},
      {"num_key_value_heads", c.n_kv_heads}, {"head_dim", c.head_dim},
      {"vocab_size", c.vocab}, {"max_position_embeddings", c.max_positions},
      {"rms_norm_eps", c.norm_eps}, {"rope_theta", c.rope_theta},
      {"tie_word_embeddings", c.tied_embeddings}, {"hidden_act", "silu"},
      {"bos_token_id", 1}, {"eos_token_id", 2}, {"torch_dtype", "float32"}};
  std::ofstream(dir / "config.json") << config.dump(2) << "\n";

  // Values must outlive write_safetensors.
  std::vector<std::vector<float>> storage;
  std::vector<TensorToWrite> tensors;
  auto add_values = [&](const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
    storage.push_back(std::move(values));
    tensors.push_back({name, DType::F32, std::move(shape), storage.back().data()});
  };
  storage.reserve(16 + 11 * model.layers.size());
  add_values("model.embed_tokens.weight", {c.vocab, c.hidden}, model.embedding.to_floats());
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const LayerWeights& layer = model.layers[static_cast<size_t>(i)];
    std::string prefix = fmt::format("model.layers.{}.", i);
    add_values(prefix + "input_layernorm.weight", {c.hidden}, layer.attn_norm);
    add_values(prefix + "post_attention_layernorm.weight", {c.hidden}, layer.ffn_norm);
    for (Projection p : kAllProjections) {
      const Matrix& m = layer.projection(p);
      std::vector<float> values = m.to_floats();
      if (p == Projection::kQ || p == Projection::kK) {
        int64_t heads = p == Projection::kQ ? c.n_heads : c.n_kv_heads;
        values = interleaved_to_halves(values, m.rows(), m.cols(), heads);
      }
      add_values(projection_module(i, p) + ".weight", {m.rows(), m.cols()}, std::move(values));
    }
  }
  add_values("model.norm.weight", {c.hidden}, model.final_norm);
  if (!c.tied_embeddings) add_values("lm_head.weight", {c.vocab, c.hidden}, model.output.to_floats());
  write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});

  fs::copy_file(tokenizer_path, dir / "tokenizer.bin");
  nlohmann::json tokenizer_config = {{"add_bos_token", true}, {"add_eos_token", false},
                                     {"bos_token", "<s>"}, {"eos_token", "</s>"}};
  std::ofstream(dir / "tokenizer_config.json") << tokenizer_config.dump(2) << "\n";
  folder.commit();
  std::printf("wrote %s (config.json, model.safetensors, tokenizer.bin)\n", output.c_str());
}

}  // namespace

void register_convert(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto tokenizer = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  CLI::App* command =
      app.add_subcommand("convert", "Write a llama2.c checkpoint as a Hugging Face model folder");
  command->add_option("model", *model, "llama2.c checkpoint (.bin)")->required();
  command->add_option("--tokenizer", *tokenizer, "llama2.c tokenizer (.bin)")->required();
  command->add_option("-o,--output", *output, "Output folder (replaced if it exists)")->required();
  command->callback([=] { run_convert(*model, *tokenizer, *output); });
}

}  // namespace optiq::cli
