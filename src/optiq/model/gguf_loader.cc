// Loads GGUF files written by optiq or llama.cpp's converter for the
// "llama" and "qwen2" architectures, with weights in any ggml type optiq
// decodes (F32, F16, BF16, Q4_0..Q8_0, Q2_K..Q6_K).
//
// Quantized weights stay in their blocks inside the mapped file and are
// decoded a tile of rows at a time, like dense weights. llama.cpp stores
// "llama" q/k rows with RoPE pairs interleaved (2i, 2i+1), so the model gets
// RopeLayout::kInterleaved and no rows are moved. "qwen2" keeps Hugging
// Face's halves layout.
#include <fmt/format.h>

#include "optiq/core/error.h"
#include "optiq/io/gguf_file.h"
#include "optiq/model/model.h"
#include "optiq/quant/ggml_quant.h"

namespace fs = std::filesystem;

namespace optiq {
namespace {

// Rows of a ggml block type inside the mapped file.
class GgmlStorage : public MatrixStorage {
 public:
  GgmlStorage(GgmlType type, const uint8_t* data, size_t row_bytes,
              std::shared_ptr<const GgufFile> owner)
      : type_(type), data_(data), row_bytes_(row_bytes), owner_(std::move(owner)) {}

  void to_float_rows(int64_t cols, int64_t row_begin, int64_t row_end,
                     float* out) const override {
    for (int64_t r = row_begin; r < row_end; ++r) {
      ggml_dequantize_row(type_, data_ + static_cast<size_t>(r) * row_bytes_,
                          out + (r - row_begin) * cols, cols);
    }
  }
  uint64_t storage_bytes(int64_t rows, int64_t) const override {
    return static_cast<uint64_t>(rows) * row_bytes_;
  }
  std::string format_name() const override {
    return std::string(ggml_type_name(type_));
  }

 private:
  GgmlType type_;
  const uint8_t* data_;
  size_t row_bytes_;
  std::shared_ptr<const GgufFile> owner_;
};

class GgufModelReader {
 public:
  explicit GgufModelReader(const fs::path& path)
      : file_(std::make_shared<const GgufFile>(path)), name_(path.string()) {}

  Model read();

 private:
  int64_t required_count(const std::string& key) const {
    const GgufValue& value = file_->at(key);
    const int64_t n = value.as_int64();
    if (n <= 0) fail("{}: key '{}' has invalid value {}", name_, key, n);
    return n;
  }
  int64_t optional_count(const std::string& key, int64_t fallback) const {
    const GgufValue* value = file_->find(key);
    return value ? value->as_int64() : fallback;
  }
  double optional_float(const std::string& key, double fallback) const {
    const GgufValue* value = file_->find(key);
    return value ? value->as_float() : fallback;
  }
  const GgufTensorInfo& tensor(const std::string& name, std::vector<int64_t> ne) const;
  Matrix matrix(const std::string& name, int64_t rows, int64_t cols) const;
  std::vector<float> vector(const std::string& name, int64_t n) const;

  std::shared_ptr<const GgufFile> file_;
  std::string name_;
};

const GgufTensorInfo& GgufModelReader::tensor(const std::string& name,
                                              std::vector<int64_t> ne) const {
  const GgufTensorInfo& info = file_->tensor(name);
  if (info.ne != ne) {
    fail("{}: tensor '{}' has shape [{}] (ggml order), expected [{}]", name_, name,
         fmt::join(info.ne, ", "), fmt::join(ne, ", "));
  }
  if (!is_supported_ggml_type(info.type)) {
    fail("{}: tensor '{}' has ggml type {}, which optiq does not decode", name_, name,
         info.type);
  }
  return info;
}

Matrix GgufModelReader::matrix(const std::string& name, int64_t rows, int64_t cols) const {
  const GgufTensorInfo& info = tensor(name, {cols, rows});
  const auto type = static_cast<GgmlType>(info.type);
  switch (type) {
    case GgmlType::F32:
      return Matrix::dense(name, rows, cols, DType::F32, info.data, file_);
    case GgmlType::F16:
      return Matrix::dense(name, rows, cols, DType::F16, info.data, file_);
    case GgmlType::BF16:
      return Matrix::dense(name, rows, cols, DType::BF16, info.data, file_);
    default:
      return Matrix(name, rows, cols,
                    std::make_shared<GgmlStorage>(type, info.data,
                                                  ggml_row_bytes(type, cols), file_));
  }
}

std::vector<float> GgufModelReader::vector(const std::string& name, int64_t n) const {
  const GgufTensorInfo& info = tensor(name, {n});
  std::vector<float> values(static_cast<size_t>(n));
  ggml_dequantize_row(static_cast<GgmlType>(info.type), info.data, values.data(), n);
  return values;
}

Model GgufModelReader::read() {
  const std::string arch = file_->at("general.architecture").as_string();
  Model model;
  model.source = file_->path();
  model.source_kind = "gguf";
  ModelConfig& c = model.config;
  if (arch == "llama") {
    c.architecture = "LlamaForCausalLM";
    c.rope_layout = RopeLayout::kInterleaved;
  } else if (arch == "qwen2") {
    c.architecture = "Qwen2ForCausalLM";
    c.rope_layout = RopeLayout::kHalves;
  } else {
    fail("{}: general.architecture '{}' is not supported (llama, qwen2)", name_, arch);
  }
  const std::string key = arch + ".";
  c.hidden = required_count(key + "embedding_length");
  c.n_layers = required_count(key + "block_count");
  c.intermediate = required_count(key + "feed_forward_length");
  c.n_heads = required_count(key + "attention.head_count");
  c.n_kv_heads = optional_count(key + "attention.head_count_kv", c.n_heads);
  c.head_dim = optional_count(key + "attention.key_length", c.hidden / c.n_heads);
  c.max_positions = required_count(key + "context_length");
  c.norm_eps = optional_float(key + "attention.layer_norm_rms_epsilon", 1e-5);
  c.rope_theta = optional_float(key + "rope.freq_base", 10000.0);
  if (const GgufValue* type = file_->find(key + "rope.scaling.type")) {
    const std::string& scaling = type->as_string();
    if (scaling == "linear") {
      c.rope_scaling.type = RopeScaling::Type::kLinear;
      c.rope_scaling.factor = optional_float(key + "rope.scaling.factor", 1.0);
    } else if (scaling != "none") {
      fail("{}: {}rope.scaling.type '{}' is not supported (none, linear)", name_, key, scaling);
    }
  }
  if (file_->find_tensor("rope_freqs.weight") != nullptr) {
    fail("{}: per-frequency RoPE factors (tensor rope_freqs.weight) are not supported", name_);
  }
  const GgufTensorInfo& embedding = file_->tensor("token_embd.weight");
  if (embedding.ne.size() != 2) {
    fail("{}: tensor 'token_embd.weight' must have 2 dimensions, has {}", name_,
         embedding.ne.size());
  }
  c.vocab = embedding.ne[1];
  c.tied_embeddings = file_->find_tensor("output.weight") == nullptr;
  c.qkv_bias = file_->find_tensor("blk.0.attn_q.bias") != nullptr;
  const auto embedding_type = static_cast<GgmlType>(embedding.type);
  c.dtype = embedding_type == GgmlType::F32    ? DType::F32
            : embedding_type == GgmlType::BF16 ? DType::BF16
                                               : DType::F16;
  c.bos_id = static_cast<int32_t>(optional_count("tokenizer.ggml.bos_token_id", 1));
  c.eos_id = static_cast<int32_t>(optional_count("tokenizer.ggml.eos_token_id", 2));
  validate_config(c, name_);

  static const char* const kNames[kProjectionCount] = {
      "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
  const int64_t rows[kProjectionCount] = {c.q_dim(),        c.kv_dim(),       c.kv_dim(),
                                          c.hidden,         c.intermediate,   c.intermediate,
                                          c.hidden};
  const int64_t cols[kProjectionCount] = {c.hidden, c.hidden, c.hidden,      c.q_dim(),
                                          c.hidden, c.hidden, c.intermediate};
  model.embedding = matrix("token_embd.weight", c.vocab, c.hidden);
  model.layers.resize(static_cast<size_t>(c.n_layers));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    LayerWeights& layer = model.layers[static_cast<size_t>(l)];
    const std::string blk = fmt::format("blk.{}.", l);
    layer.attn_norm = vector(blk + "attn_norm.weight", c.hidden);
    layer.ffn_norm = vector(blk + "ffn_norm.weight", c.hidden);
    for (int p = 0; p < kProjectionCount; ++p) {
      layer.projection(kAllProjections[p]) =
          matrix(blk + kNames[p] + ".weight", rows[p], cols[p]);
    }
    if (c.qkv_bias) {
      layer.q_bias = vector(blk + "attn_q.bias", c.q_dim());
      layer.k_bias = vector(blk + "attn_k.bias", c.kv_dim());
      layer.v_bias = vector(blk + "attn_v.bias", c.kv_dim());
    }
  }
  model.final_norm = vector("output_norm.weight", c.hidden);
  model.output = c.tied_embeddings ? model.embedding : matrix("output.weight", c.vocab, c.hidden);
  return model;
}

}  // namespace

Model load_gguf_model(const fs::path& path) { return GgufModelReader(path).read(); }

}  // namespace optiq
