#include "optiq/model/config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "optiq/core/error.h"

using nlohmann::json;

namespace optiq {
namespace {

class ConfigReader {
 public:
  ConfigReader(const json& root, std::string file) : root_(root), file_(std::move(file)) {}

  bool has(const char* key) const { return root_.contains(key) && !root_[key].is_null(); }

  int64_t integer(const char* key) const {
    if (!has(key)) fail("{}: missing required key '{}'", file_, key);
    return integer_or(key, 0);
  }

  int64_t integer_or(const char* key, int64_t fallback) const {
    if (!has(key)) return fallback;
    const json& value = root_[key];
    if (!value.is_number_integer()) {
      fail("{}: key '{}' must be an integer, got {}", file_, key, value.dump());
    }
    return value.get<int64_t>();
  }

  double number_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const json& value = root_[key];
    if (!value.is_number()) fail("{}: key '{}' must be a number, got {}", file_, key, value.dump());
    return value.get<double>();
  }

  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& value = root_[key];
    if (!value.is_boolean()) fail("{}: key '{}' must be true or false, got {}", file_, key, value.dump());
    return value.get<bool>();
  }

  std::string string_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& value = root_[key];
    if (!value.is_string()) fail("{}: key '{}' must be a string, got {}", file_, key, value.dump());
    return value.get<std::string>();
  }

  // bos/eos ids may be an integer or a list of integers (the first is used).
  int32_t token_id_or(const char* key, int32_t fallback) const {
    if (!has(key)) return fallback;
    const json& value = root_[key];
    if (value.is_number_integer()) return value.get<int32_t>();
    if (value.is_array() && !value.empty() && value[0].is_number_integer()) {
      return value[0].get<int32_t>();
    }
    fail("{}: key '{}' must be a token id, got {}", file_, key, value.dump());
  }

  const json& root() const { return root_; }
  const std::string& file() const { return file_; }

 private:
  const json& root_;
  std::string file_;
};

RopeScaling parse_rope_scaling(const ConfigReader& reader) {
  RopeScaling scaling;
  if (!reader.has("rope_scaling")) return scaling;
  const json& value = reader.root()["rope_scaling"];
  if (!value.is_object()) {
    fail("{}: key 'rope_scaling' must be an object or null, got {}", reader.file(), value.dump());
  }
  ConfigReader scaling_reader(value, reader.file() + " rope_scaling");
  std::string type = scaling_reader.string_or("rope_type", scaling_reader.string_or("type", ""));
  if (type == "default" || type.empty()) return scaling;
  scaling.factor = scaling_reader.number_or("factor", 1.0);
  if (!(scaling.factor > 0)) {
    fail("{}: rope_scaling factor must be positive, got {}", reader.file(), scaling.factor);
  }
  if (type == "linear") {
    scaling.type = RopeScaling::Type::kLinear;
  } else if (type == "llama3") {
    scaling.type = RopeScaling::Type::kLlama3;
    scaling.low_freq_factor = scaling_reader.number_or("low_freq_factor", 1.0);
    scaling.high_freq_factor = scaling_reader.number_or("high_freq_factor", 4.0);
    scaling.original_max_position =
        scaling_reader.integer_or("original_max_position_embeddings", 8192);
    if (!(scaling.high_freq_factor > scaling.low_freq_factor)) {
      fail("{}: rope_scaling high_freq_factor {} must exceed low_freq_factor {}", reader.file(),
           scaling.high_freq_factor, scaling.low_freq_factor);
    }
  } else {
    fail("{}: unsupported rope_scaling type '{}' (supported: linear, llama3)", reader.file(),
         type);
  }
  return scaling;
}

DType parse_torch_dtype(const ConfigReader& reader) {
  std::string name = reader.string_or("torch_dtype", "float32");
  if (name == "bfloat16") return DType::BF16;
  if (name == "float16") return DType::F16;
  if (name == "float32") return DType::F32;
  fail("{}: unsupported torch_dtype '{}' (supported: float32, float16, bfloat16)", reader.file(),
       name);
}

}  // namespace

ModelConfig parse_hf_config(const std::filesystem::path& config_json) {
  const std::string file = config_json.string();
  std::ifstream stream(config_json);
  if (!stream) fail("cannot open '{}'", file);
  json root;
  try {
    root = json::parse(stream);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", file, e.what());
  }
  if (!root.is_object()) fail("{}: expected a JSON object", file);
  ConfigReader reader(root, file);

  ModelConfig config;
  if (!root.contains("architectures") || !root["architectures"].is_array() ||
      root["architectures"].empty() || !root["architectures"][0].is_string()) {
    fail("{}: missing or invalid key 'architectures'", file);
  }
  config.architecture = root["architectures"][0].get<std::string>();
  bool is_qwen2 = config.architecture == "Qwen2ForCausalLM";
  if (config.architecture != "LlamaForCausalLM" && config.architecture != "MistralForCausalLM" &&
      !is_qwen2) {
    fail("{}: unsupported architecture '{}' (supported: LlamaForCausalLM, MistralForCausalLM, "
         "Qwen2ForCausalLM)",
         file, config.architecture);
  }
  std::string act = reader.string_or("hidden_act", "silu");
  if (act != "silu") fail("{}: unsupported hidden_act '{}' (supported: silu)", file, act);
  if (reader.boolean_or("mlp_bias", false)) fail("{}: unsupported mlp_bias true", file);

  config.hidden = reader.integer("hidden_size");
  config.intermediate = reader.integer("intermediate_size");
  config.n_layers = reader.integer("num_hidden_layers");
  config.n_heads = reader.integer("num_attention_heads");
  config.n_kv_heads = reader.integer_or("num_key_value_heads", config.n_heads);
  config.head_dim =
      reader.integer_or("head_dim", config.n_heads > 0 ? config.hidden / config.n_heads : 0);
  config.vocab = reader.integer("vocab_size");
  config.max_positions = reader.integer_or("max_position_embeddings", 2048);
  config.norm_eps = reader.number_or("rms_norm_eps", 1e-6);
  config.rope_theta = reader.number_or("rope_theta", 10000.0);
  config.rope_scaling = parse_rope_scaling(reader);
  config.rope_layout = RopeLayout::kHalves;
  config.tied_embeddings = reader.boolean_or("tie_word_embeddings", false);
  config.qkv_bias = is_qwen2 || reader.boolean_or("attention_bias", false);
  config.dtype = parse_torch_dtype(reader);
  config.bos_id = reader.token_id_or("bos_token_id", 1);
  config.eos_id = reader.token_id_or("eos_token_id", 2);
  bool sliding = config.architecture == "MistralForCausalLM" ||
                 reader.boolean_or("use_sliding_window", false);
  if (sliding) config.sliding_window = reader.integer_or("sliding_window", 0);
  validate_config(config, file);
  return config;
}

void validate_config(const ModelConfig& config, const std::string& source) {
  auto require_positive = [&](const char* key, int64_t value) {
    if (value <= 0 || value > (int64_t{1} << 24)) {
      fail("{}: invalid {} {}", source, key, value);
    }
  };
  require_positive("hidden_size", config.hidden);
  require_positive("intermediate_size", config.intermediate);
  require_positive("num_hidden_layers", config.n_layers);
  require_positive("num_attention_heads", config.n_heads);
  require_positive("num_key_value_heads", config.n_kv_heads);
  require_positive("head_dim", config.head_dim);
  require_positive("vocab_size", config.vocab);
  require_positive("max_position_embeddings", config.max_positions);
  if (config.n_heads % config.n_kv_heads != 0) {
    fail("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", source,
         config.n_heads, config.n_kv_heads);
  }
  if (config.head_dim % 2 != 0) fail("{}: head_dim {} must be even for RoPE", source, config.head_dim);
  if (!(config.norm_eps > 0)) fail("{}: invalid rms_norm_eps {}", source, config.norm_eps);
  if (!(config.rope_theta > 0)) fail("{}: invalid rope_theta {}", source, config.rope_theta);
}

}  // namespace optiq
