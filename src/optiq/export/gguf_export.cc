#include "optiq/export/gguf_export.h"

#include <fmt/format.h>
#include <sentencepiece_processor.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "optiq/core/error.h"
#include "optiq/core/progress.h"
#include "optiq/io/gguf_writer.h"
#include "optiq/model/rope_permute.h"
#include "optiq/profile/profiler.h"
#include "optiq/tokenizer/llama2c_tokenizer.h"

namespace fs = std::filesystem;

namespace optiq {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 '▁'

// True for SentencePiece byte pieces "<0xXX>" with two upper-case hex digits.
bool is_byte_piece(const std::string& piece) {
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>') {
    return false;
  }
  for (char c : piece.substr(3, 2)) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

std::string replace_spaces(const std::string& piece) {
  std::string out;
  for (char c : piece) {
    if (c == ' ') {
      out += kSpaceMarker;
    } else {
      out += c;
    }
  }
  return out;
}

// GGUF architecture name for a model config.
std::string gguf_architecture(const ModelConfig& c) {
  if (c.architecture == "Qwen2ForCausalLM") return "qwen2";
  if (c.architecture == "LlamaForCausalLM" ||
      c.architecture == "MistralForCausalLM" || c.architecture.empty()) {
    return "llama";
  }
  fail("GGUF export supports Llama, Mistral and Qwen2 models, not '{}'",
       c.architecture);
}

void write_hyperparameters(const Model& model, const std::string& arch,
                           GgufWriter& writer) {
  const ModelConfig& c = model.config;
  auto key = [&](std::string_view suffix) {
    return fmt::format("{}.{}", arch, suffix);
  };
  writer.set_uint32(key("vocab_size"), static_cast<uint32_t>(c.vocab));
  writer.set_uint32(key("context_length"),
                    static_cast<uint32_t>(c.max_positions));
  writer.set_uint32(key("embedding_length"), static_cast<uint32_t>(c.hidden));
  writer.set_uint32(key("block_count"), static_cast<uint32_t>(c.n_layers));
  writer.set_uint32(key("feed_forward_length"),
                    static_cast<uint32_t>(c.intermediate));
  writer.set_uint32(key("attention.head_count"),
                    static_cast<uint32_t>(c.n_heads));
  writer.set_uint32(key("attention.head_count_kv"),
                    static_cast<uint32_t>(c.n_kv_heads));
  writer.set_float32(key("rope.freq_base"), static_cast<float>(c.rope_theta));
  writer.set_float32(key("attention.layer_norm_rms_epsilon"),
                     static_cast<float>(c.norm_eps));
  writer.set_uint32(key("rope.dimension_count"),
                    static_cast<uint32_t>(c.head_dim));
  if (c.head_dim * c.n_heads != c.hidden) {
    writer.set_uint32(key("attention.key_length"),
                      static_cast<uint32_t>(c.head_dim));
    writer.set_uint32(key("attention.value_length"),
                      static_cast<uint32_t>(c.head_dim));
  }
  switch (c.rope_scaling.type) {
    case RopeScaling::Type::kNone:
      break;
    case RopeScaling::Type::kLinear:
      writer.set_string(key("rope.scaling.type"), "linear");
      writer.set_float32(key("rope.scaling.factor"),
                         static_cast<float>(c.rope_scaling.factor));
      break;
    case RopeScaling::Type::kLlama3:
      // llama.cpp stores llama3 scaling as a rope_freqs tensor.
      fail("{}: GGUF export of llama3 RoPE scaling is not supported",
           model.source.string());
  }
}

void write_vocab(const GgufVocab& vocab, GgufWriter& writer) {
  const size_t n = vocab.tokens.size();
  if (vocab.scores.size() != n || vocab.token_types.size() != n) {
    fail("vocabulary has {} tokens but {} scores and {} token types", n,
         vocab.scores.size(), vocab.token_types.size());
  }
  writer.set_string("tokenizer.ggml.model", "llama");
  writer.set_string_array("tokenizer.ggml.tokens", vocab.tokens);
  writer.set_float32_array("tokenizer.ggml.scores", vocab.scores);
  writer.set_int32_array("tokenizer.ggml.token_type", vocab.token_types);
  auto set_id = [&](const char* key, int32_t id) {
    if (id < 0) return;
    if (static_cast<size_t>(id) >= n) {
      fail("vocabulary {} = {} is outside the {} tokens", key, id, n);
    }
    writer.set_uint32(key, static_cast<uint32_t>(id));
  };
  set_id("tokenizer.ggml.bos_token_id", vocab.bos_id);
  set_id("tokenizer.ggml.eos_token_id", vocab.eos_id);
  set_id("tokenizer.ggml.unknown_token_id", vocab.unknown_id);
  writer.set_bool("tokenizer.ggml.add_bos_token", vocab.add_bos);
  writer.set_bool("tokenizer.ggml.add_eos_token", vocab.add_eos);
}

// Storage type for a 2-D weight: the plan's format for `module` when
// listed, else `default_type`.
GgmlType planned_type(const std::map<std::string, const PlanEntry*>& entries,
                      const std::string& module, GgmlType default_type) {
  auto found = entries.find(module);
  if (found == entries.end()) return default_type;
  const QuantFormat& format = found->second->format;
  switch (format.kind) {
    case QuantFormat::Kind::kGgml:
      return format.ggml;
    case QuantFormat::Kind::kFloat:
      if (format.float_dtype == DType::F32) return GgmlType::F32;
      if (format.float_dtype == DType::BF16) return GgmlType::BF16;
      return GgmlType::F16;
    case QuantFormat::Kind::kAffine:
      break;
  }
  fail("plan format {} of '{}' cannot be written to GGUF (use ggml types)",
       format.name(), module);
}

class GgufTensorSink {
 public:
  GgufTensorSink(GgufWriter& writer, GgufExportSummary& summary,
                 const GgufExportOptions& options)
      : writer_(writer), summary_(summary), options_(options) {}

  // Adds a [rows, cols] weight in `wanted` (or its fallback type).
  void add_matrix(const std::string& name, const std::string& module,
                  const std::vector<float>& w, int64_t rows, int64_t cols,
                  GgmlType wanted) {
    const GgmlType type = ggml_fallback_type(wanted, cols);
    if (type != wanted) ++summary_.fallback_count;
    const float* importance = nullptr;
    if (options_.importance != nullptr) {
      auto found = options_.importance->find(module);
      if (found != options_.importance->end() &&
          static_cast<int64_t>(found->second.size()) == cols) {
        importance = found->second.data();
      }
    }
    std::vector<uint8_t> bytes;
    if (type == GgmlType::F32) {
      bytes.resize(w.size() * sizeof(float));
      std::memcpy(bytes.data(), w.data(), bytes.size());
    } else {
      ggml_quantize_matrix(type, w.data(), rows, cols, importance, bytes);
    }
    summary_.params_by_type[std::string(ggml_type_name(type))] += rows * cols;
    add(name, {cols, rows}, type, std::move(bytes));
  }

  void add_vector(const std::string& name, const std::vector<float>& v) {
    std::vector<uint8_t> bytes(v.size() * sizeof(float));
    std::memcpy(bytes.data(), v.data(), bytes.size());
    add(name, {static_cast<int64_t>(v.size())}, GgmlType::F32,
        std::move(bytes));
  }

 private:
  void add(const std::string& name, std::vector<int64_t> ne, GgmlType type,
           std::vector<uint8_t> bytes) {
    summary_.tensor_bytes += bytes.size();
    ++summary_.tensor_count;
    writer_.add_owned_tensor(name, std::move(ne), static_cast<uint32_t>(type),
                             std::move(bytes));
  }

  GgufWriter& writer_;
  GgufExportSummary& summary_;
  const GgufExportOptions& options_;
};

const char* gguf_projection_name(Projection p) {
  switch (p) {
    case Projection::kQ:
      return "attn_q";
    case Projection::kK:
      return "attn_k";
    case Projection::kV:
      return "attn_v";
    case Projection::kO:
      return "attn_output";
    case Projection::kGate:
      return "ffn_gate";
    case Projection::kUp:
      return "ffn_up";
    case Projection::kDown:
      return "ffn_down";
  }
  OPTIQ_ASSERT(false);
  return "";
}

// The most common 2-D weight type by parameter count.
GgmlType dominant_type(const GgufExportSummary& summary) {
  std::string best;
  int64_t best_count = -1;
  for (const auto& [name, count] : summary.params_by_type) {
    if (count > best_count) {
      best = name;
      best_count = count;
    }
  }
  return parse_ggml_type(best).value_or(GgmlType::F32);
}

}  // namespace

GgufVocab read_sentencepiece_vocab(const fs::path& path) {
  sentencepiece::SentencePieceProcessor processor;
  const auto status = processor.Load(path.string());
  if (!status.ok()) {
    fail("{}: not a SentencePiece model: {}", path.string(), status.ToString());
  }
  GgufVocab vocab;
  const int n = processor.GetPieceSize();
  for (int id = 0; id < n; ++id) {
    vocab.tokens.push_back(processor.IdToPiece(id));
    vocab.scores.push_back(processor.GetScore(id));
    int32_t type = GgufVocab::kNormal;
    if (processor.IsUnknown(id)) {
      type = GgufVocab::kUnknown;
    } else if (processor.IsControl(id)) {
      type = GgufVocab::kControl;
    } else if (processor.IsUnused(id)) {
      type = GgufVocab::kUnused;
    } else if (processor.IsByte(id)) {
      type = GgufVocab::kByte;
    }
    vocab.token_types.push_back(type);
  }
  vocab.bos_id = processor.bos_id();
  vocab.eos_id = processor.eos_id();
  vocab.unknown_id = processor.unk_id();
  return vocab;
}

GgufVocab read_llama2c_vocab(const fs::path& path) {
  Llama2cTokenizer tokenizer(path);
  GgufVocab vocab;
  vocab.bos_id = 1;
  vocab.eos_id = 2;
  vocab.unknown_id = 0;
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    const std::string& piece = tokenizer.piece(id);
    int32_t type = GgufVocab::kNormal;
    std::string token;
    if (id == vocab.unknown_id) {
      token = "<unk>";
      type = GgufVocab::kUnknown;
    } else if (id == vocab.bos_id && piece == "\n<s>\n") {
      token = "<s>";
      type = GgufVocab::kControl;
    } else if (id == vocab.eos_id && piece == "\n</s>\n") {
      token = "</s>";
      type = GgufVocab::kControl;
    } else if (is_byte_piece(piece)) {
      token = piece;
      type = GgufVocab::kByte;
    } else {
      token = replace_spaces(piece);
    }
    vocab.tokens.push_back(std::move(token));
    vocab.scores.push_back(tokenizer.score(id));
    vocab.token_types.push_back(type);
  }
  return vocab;
}

GgufVocab find_gguf_vocab(const Model& model, const fs::path& tokenizer) {
  fs::path file = tokenizer;
  std::error_code ec;
  if (file.empty()) {
    fs::path folder = fs::is_directory(model.source, ec)
                          ? model.source
                          : model.source.parent_path();
    file = folder / "tokenizer.model";
    if (!fs::exists(file, ec)) {
      fail(
          "{}: no tokenizer.model next to the model; GGUF export needs a "
          "SentencePiece .model or llama2.c .bin vocabulary (--tokenizer)",
          folder.string());
    }
  }
  GgufVocab vocab = file.extension() == ".bin" ? read_llama2c_vocab(file)
                                               : read_sentencepiece_vocab(file);
  if (vocab.bos_id < 0) vocab.bos_id = model.config.bos_id;
  if (vocab.eos_id < 0) vocab.eos_id = model.config.eos_id;
  const fs::path config = model.source / "tokenizer_config.json";
  if (model.source_kind != "llama2.c" && fs::exists(config, ec)) {
    std::ifstream stream(config);
    auto json = nlohmann::json::parse(stream, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
      fail("{}: invalid JSON", config.string());
    }
    if (json.contains("add_bos_token") && json["add_bos_token"].is_boolean()) {
      vocab.add_bos = json["add_bos_token"].get<bool>();
    }
    if (json.contains("add_eos_token") && json["add_eos_token"].is_boolean()) {
      vocab.add_eos = json["add_eos_token"].get<bool>();
    }
  }
  return vocab;
}

uint32_t gguf_file_type(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
      return 0;
    case GgmlType::F16:
      return 1;
    case GgmlType::Q4_0:
      return 2;
    case GgmlType::Q4_1:
      return 3;
    case GgmlType::Q8_0:
      return 7;
    case GgmlType::Q5_0:
      return 8;
    case GgmlType::Q5_1:
      return 9;
    case GgmlType::Q2_K:
      return 10;
    case GgmlType::Q3_K:
      return 11;
    case GgmlType::Q4_K:
      return 14;
    case GgmlType::Q5_K:
      return 16;
    case GgmlType::Q6_K:
      return 18;
    case GgmlType::BF16:
      return 32;
  }
  fail("no llama.cpp file type for ggml type {}", static_cast<int>(type));
}

GgufExportSummary export_gguf(const Model& model, const Plan* plan,
                              GgmlType default_type, const GgufVocab* vocab,
                              const fs::path& path,
                              const GgufExportOptions& options) {
  const ModelConfig& c = model.config;
  const std::string arch = gguf_architecture(c);
  // llama.cpp's "llama" rotates adjacent pairs (rope type NORM); "qwen2"
  // rotates halves (NEOX), like Hugging Face.
  const bool want_interleaved = arch == "llama";
  const bool permute =
      want_interleaved != (c.rope_layout == RopeLayout::kInterleaved);

  std::map<std::string, const PlanEntry*> entries;
  if (plan != nullptr) {
    for (const PlanEntry& e : plan->entries) entries[e.target.module] = &e;
  }

  GgufWriter writer;
  GgufExportSummary summary;
  writer.set_string("general.architecture", arch);
  if (!options.name.empty()) writer.set_string("general.name", options.name);
  write_hyperparameters(model, arch, writer);
  if (vocab != nullptr) write_vocab(*vocab, writer);

  GgufTensorSink sink(writer, summary, options);
  auto add_weight = [&](const std::string& name, const std::string& module,
                        const Matrix& matrix, int64_t rope_heads) {
    auto planned = entries.find(module);
    if (planned != entries.end() &&
        (planned->second->target.rows != matrix.rows() ||
         planned->second->target.cols != matrix.cols())) {
      fail("plan gives '{}' shape [{}, {}] but the model has [{}, {}]", module,
           planned->second->target.rows, planned->second->target.cols,
           matrix.rows(), matrix.cols());
    }
    std::vector<float> w = checked_weights(matrix, module);
    if (permute && rope_heads > 0) {
      w = want_interleaved ? halves_to_interleaved(w, matrix.rows(),
                                                   matrix.cols(), rope_heads)
                           : interleaved_to_halves(w, matrix.rows(),
                                                   matrix.cols(), rope_heads);
    }
    sink.add_matrix(name, module, w, matrix.rows(), matrix.cols(),
                    planned_type(entries, module, default_type));
  };
  auto add_bias = [&](const std::string& name, const std::vector<float>& b,
                      int64_t rope_heads) {
    if (permute && rope_heads > 0) {
      const int64_t rows = static_cast<int64_t>(b.size());
      sink.add_vector(name,
                      want_interleaved
                          ? halves_to_interleaved(b, rows, 1, rope_heads)
                          : interleaved_to_halves(b, rows, 1, rope_heads));
    } else {
      sink.add_vector(name, b);
    }
  };

  Progress progress("gguf", c.n_layers + 2, "step");
  add_weight("token_embd.weight", "model.embed_tokens", model.embedding, 0);
  progress.advance(1, "token_embd");
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& layer = model.layers[l];
    const std::string blk = fmt::format("blk.{}.", l);
    sink.add_vector(blk + "attn_norm.weight", layer.attn_norm);
    for (Projection p : kAllProjections) {
      int64_t heads = 0;
      if (p == Projection::kQ) heads = c.n_heads;
      if (p == Projection::kK) heads = c.n_kv_heads;
      add_weight(blk + gguf_projection_name(p) + ".weight",
                 projection_module(l, p), layer.projection(p), heads);
    }
    if (!layer.q_bias.empty()) {
      add_bias(blk + "attn_q.bias", layer.q_bias, c.n_heads);
      add_bias(blk + "attn_k.bias", layer.k_bias, c.n_kv_heads);
      add_bias(blk + "attn_v.bias", layer.v_bias, 0);
    }
    sink.add_vector(blk + "ffn_norm.weight", layer.ffn_norm);
    progress.advance(1, blk);
  }
  sink.add_vector("output_norm.weight", model.final_norm);
  if (!c.tied_embeddings) {
    add_weight("output.weight", "lm_head", model.output, 0);
  }
  progress.advance(1, "output");

  const GgmlType main_type = dominant_type(summary);
  writer.set_uint32("general.file_type", gguf_file_type(main_type));
  if (ggml_block_size(main_type) > 1) {
    // The ggml quantization format version llama.cpp's writer records.
    writer.set_uint32("general.quantization_version", 2);
  }
  writer.write(path);
  std::error_code ec;
  summary.file_bytes = fs::file_size(path, ec);
  return summary;
}

}  // namespace optiq
