// optiq_make_model: writes a Hugging Face Llama checkpoint folder with
// deterministic pseudo-random bf16 weights, for memory and speed benchmarks of
// models too large to keep in the repository or the shared folder.
//
// Output: config.json (LlamaForCausalLM, untied embeddings), shards named
// model-0000N-of-0000M.safetensors with model.safetensors.index.json, and
// optionally a copied tokenizer.model. Tensor names and shapes follow the
// Hugging Face transformers LlamaForCausalLM state dict.
//
// Weights: each row of each matrix comes from its own SplitMix64 stream,
// seeded from --seed, the tensor name and the row index, so the output is
// bit-identical whatever the thread count or shard size. Values are
// Irwin-Hall sums of four uniforms scaled to mean 0 and std 0.02 (bounded at
// about 3.5 sigma); norm weights are 1.0.
//
// Memory: write_safetensors takes a whole shard at once, so the tool keeps
// one shard (--shard-mib, or the largest tensor if that is bigger) in memory.
// A small --shard-mib gives one tensor per shard.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "optiq/core/error.h"
#include "optiq/core/half.h"
#include "optiq/core/log.h"
#include "optiq/core/parallel.h"
#include "optiq/io/atomic_output.h"
#include "optiq/io/safetensors.h"

namespace fs = std::filesystem;

namespace {

constexpr float kWeightStd = 0.02f;

struct Shape {
  int64_t hidden = 2048;
  int64_t layers = 22;
  int64_t intermediate = 5632;
  int64_t heads = 32;
  int64_t kv_heads = 4;
  int64_t vocab = 32000;
  int64_t max_positions = 2048;
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;  // [rows, cols] or [cols]
  bool is_norm = false;        // filled with 1.0 instead of random values

  int64_t numel() const { return optiq::checked_numel(shape, name); }
  uint64_t nbytes() const { return static_cast<uint64_t>(numel()) * 2; }
};

// The LlamaForCausalLM state dict, in the order in which transformers
// registers the modules (embedding, layers, final norm, output head).
std::vector<TensorSpec> llama_tensors(const Shape& s) {
  const int64_t head_dim = s.hidden / s.heads;
  std::vector<TensorSpec> specs;
  specs.push_back({"model.embed_tokens.weight", {s.vocab, s.hidden}});
  for (int64_t layer = 0; layer < s.layers; ++layer) {
    const std::string prefix = fmt::format("model.layers.{}.", layer);
    auto add = [&](const std::string& name, std::vector<int64_t> shape,
                   bool is_norm = false) {
      specs.push_back({prefix + name, std::move(shape), is_norm});
    };
    add("self_attn.q_proj.weight", {s.heads * head_dim, s.hidden});
    add("self_attn.k_proj.weight", {s.kv_heads * head_dim, s.hidden});
    add("self_attn.v_proj.weight", {s.kv_heads * head_dim, s.hidden});
    add("self_attn.o_proj.weight", {s.hidden, s.heads * head_dim});
    add("mlp.gate_proj.weight", {s.intermediate, s.hidden});
    add("mlp.up_proj.weight", {s.intermediate, s.hidden});
    add("mlp.down_proj.weight", {s.hidden, s.intermediate});
    add("input_layernorm.weight", {s.hidden}, true);
    add("post_attention_layernorm.weight", {s.hidden}, true);
  }
  specs.push_back({"model.norm.weight", {s.hidden}, true});
  specs.push_back({"lm_head.weight", {s.vocab, s.hidden}});
  return specs;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// 64-bit FNV-1a, to turn a tensor name into part of a stream seed.
uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    hash = (hash ^ c) * 0x100000001b3ull;
  }
  return hash;
}

// Fills `out` (numel bf16 values) for one tensor.
void fill_tensor(const TensorSpec& spec, uint64_t seed,
                 std::vector<uint16_t>& out) {
  out.resize(static_cast<size_t>(spec.numel()));
  if (spec.is_norm) {
    std::fill(out.begin(), out.end(), optiq::float_to_bf16(1.0f));
    return;
  }
  const int64_t rows = spec.shape[0];
  const int64_t cols = spec.shape[1];
  uint64_t base = seed;
  base = splitmix64(base) ^ fnv1a(spec.name);
  // A sum of four U(0,1) has mean 2 and variance 4/12, so (sum - 2) * sqrt(3)
  // has unit variance.
  const float scale = kWeightStd * std::sqrt(3.0f);
  uint16_t* data = out.data();
  optiq::parallel_for(
      rows,
      [&](int64_t row) {
        uint64_t state =
            base + static_cast<uint64_t>(row) * 0x632be59bd9b4e019ull;
        splitmix64(state);
        uint16_t* dst = data + row * cols;
        for (int64_t col = 0; col < cols; ++col) {
          uint64_t bits = splitmix64(state);
          float sum = 0.0f;
          for (int part = 0; part < 4; ++part) {
            sum += (static_cast<float>((bits >> (16 * part)) & 0xffff) + 0.5f) *
                   (1.0f / 65536.0f);
          }
          dst[col] = optiq::float_to_bf16((sum - 2.0f) * scale);
        }
      },
      cols);
}

// Splits specs, in order, into shards of at most max_bytes each. A tensor
// larger than max_bytes gets a shard of its own.
std::vector<std::vector<size_t>> plan_shards(
    const std::vector<TensorSpec>& specs, uint64_t max_bytes) {
  std::vector<std::vector<size_t>> shards;
  uint64_t shard_bytes = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const uint64_t bytes = specs[i].nbytes();
    if (shards.empty() || shard_bytes + bytes > max_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(i);
    shard_bytes += bytes;
  }
  return shards;
}

std::string config_json(const Shape& s) {
  nlohmann::ordered_json config = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_size", s.hidden},
      {"intermediate_size", s.intermediate},
      {"num_hidden_layers", s.layers},
      {"num_attention_heads", s.heads},
      {"num_key_value_heads", s.kv_heads},
      {"vocab_size", s.vocab},
      {"max_position_embeddings", s.max_positions},
      {"hidden_act", "silu"},
      {"rms_norm_eps", 1e-5},
      {"rope_theta", 10000.0},
      {"attention_bias", false},
      {"tie_word_embeddings", false},
      {"bos_token_id", 1},
      {"eos_token_id", 2},
      {"torch_dtype", "bfloat16"},
  };
  return config.dump(2) + "\n";
}

void validate(const Shape& s) {
  auto require_positive = [](const char* option, int64_t value) {
    if (value <= 0) optiq::fail("--{} must be positive, got {}", option, value);
  };
  require_positive("hidden", s.hidden);
  require_positive("layers", s.layers);
  require_positive("intermediate", s.intermediate);
  require_positive("heads", s.heads);
  require_positive("kv-heads", s.kv_heads);
  require_positive("vocab", s.vocab);
  require_positive("max-positions", s.max_positions);
  if (s.hidden % s.heads != 0) {
    optiq::fail("--hidden {} is not a multiple of --heads {}", s.hidden,
                s.heads);
  }
  if (s.heads % s.kv_heads != 0) {
    optiq::fail("--heads {} is not a multiple of --kv-heads {}", s.heads,
                s.kv_heads);
  }
}

void make_model(const Shape& shape, uint64_t seed, uint64_t shard_mib,
                const fs::path& output, const fs::path& tokenizer) {
  validate(shape);
  if (!tokenizer.empty() && !fs::is_regular_file(tokenizer)) {
    optiq::fail("--tokenizer '{}': file not found", tokenizer.string());
  }
  const std::vector<TensorSpec> specs = llama_tensors(shape);
  const auto shards = plan_shards(specs, shard_mib << 20);

  optiq::AtomicOutput folder(output, /*is_directory=*/true);
  const fs::path& dir = folder.temporary_path();
  optiq::write_file_atomic(dir / "config.json", config_json(shape));

  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  uint64_t total_bytes = 0;
  for (size_t shard = 0; shard < shards.size(); ++shard) {
    const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors",
                                         shard + 1, shards.size());
    std::vector<std::vector<uint16_t>> buffers(shards[shard].size());
    std::vector<optiq::TensorToWrite> tensors;
    uint64_t shard_bytes = 0;
    for (size_t k = 0; k < shards[shard].size(); ++k) {
      const TensorSpec& spec = specs[shards[shard][k]];
      fill_tensor(spec, seed, buffers[k]);
      tensors.push_back(
          {spec.name, optiq::DType::BF16, spec.shape, buffers[k].data()});
      weight_map[spec.name] = file;
      shard_bytes += spec.nbytes();
    }
    optiq::write_safetensors(dir / file, tensors, {{"format", "pt"}});
    total_bytes += shard_bytes;
    spdlog::info("wrote {} ({} tensors, {:.1f} MiB)", file, tensors.size(),
                 static_cast<double>(shard_bytes) / (1 << 20));
  }

  nlohmann::ordered_json index = {
      {"metadata", {{"total_size", total_bytes}}},
      {"weight_map", weight_map},
  };
  optiq::write_file_atomic(dir / "model.safetensors.index.json",
                           index.dump(2) + "\n");
  if (!tokenizer.empty()) {
    fs::copy_file(tokenizer, dir / "tokenizer.model");
    // copy_file keeps the source's mode, which may be read-only.
    fs::permissions(dir / "tokenizer.model", fs::perms::owner_write,
                    fs::perm_options::add);
  }
  folder.commit();
  spdlog::info("wrote {}: {} tensors, {:.1f} MiB of bf16 weights",
               output.string(), specs.size(),
               static_cast<double>(total_bytes) / (1 << 20));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Write a Hugging Face Llama checkpoint with deterministic random bf16 "
      "weights (default shape: TinyLlama-1.1B)"};
  Shape shape;
  uint64_t seed = 1;
  uint64_t shard_mib = 1024;
  int threads = 0;
  std::string output;
  std::string tokenizer;
  app.add_option("--hidden", shape.hidden, "hidden_size")
      ->capture_default_str();
  app.add_option("--layers", shape.layers, "num_hidden_layers")
      ->capture_default_str();
  app.add_option("--intermediate", shape.intermediate, "intermediate_size")
      ->capture_default_str();
  app.add_option("--heads", shape.heads, "num_attention_heads")
      ->capture_default_str();
  app.add_option("--kv-heads", shape.kv_heads, "num_key_value_heads")
      ->capture_default_str();
  app.add_option("--vocab", shape.vocab, "vocab_size")->capture_default_str();
  app.add_option("--max-positions", shape.max_positions,
                 "max_position_embeddings")
      ->capture_default_str();
  app.add_option("--seed", seed, "Seed of the pseudo-random weights")
      ->capture_default_str();
  app.add_option("--shard-mib", shard_mib,
                 "Maximum shard size in MiB (a larger tensor gets its own "
                 "shard). The tool keeps one shard in memory")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--tokenizer", tokenizer,
                 "SentencePiece tokenizer.model to copy into the folder");
  app.add_option("-t,--threads", threads, "Worker threads (0: all cores)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("-o,--output", output,
                 "Folder to write (replaced if it exists)")
      ->required();
  CLI11_PARSE(app, argc, argv);

  try {
    optiq::set_thread_count(threads);
    make_model(shape, seed, shard_mib, output, tokenizer);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
