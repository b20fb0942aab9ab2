// Loads llama2.c checkpoints in the legacy layout: a header of 7 int32
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len) and
// float32 weights in a fixed order. A negative vocab_size means an untied
// classifier follows the two legacy freq_cis blocks. Newer exports start with
// the magic "ak42" and a version number.
#include <cstring>
#include <limits>

#include "optiq/core/error.h"
#include "optiq/io/mapped_file.h"
#include "optiq/model/model.h"

namespace fs = std::filesystem;

namespace optiq {
namespace {

constexpr uint32_t kExportMagic = 0x616b3432;  // "ak42" as a little-endian uint32

int64_t checked_multiply(int64_t a, int64_t b, const std::string& file) {
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) {
    fail("{}: header dimensions overflow when computing tensor sizes", file);
  }
  return a * b;
}

}  // namespace

Model load_llama2c_model(const fs::path& path) {
  auto file = std::make_shared<const MappedFile>(path);
  const std::string name = path.string();
  if (file->size() < 28) {
    fail("{}: file is {} bytes, too short for a llama2.c header", name, file->size());
  }
  int32_t header[7];
  std::memcpy(header, file->data(), sizeof header);
  if (static_cast<uint32_t>(header[0]) == kExportMagic) {
    fail("{}: unsupported llama2.c export version {} (only the legacy header layout is "
         "supported)",
         name, header[1]);
  }

  Model model;
  ModelConfig& c = model.config;
  c.architecture = "LlamaForCausalLM";
  c.hidden = header[0];
  c.intermediate = header[1];
  c.n_layers = header[2];
  c.n_heads = header[3];
  c.n_kv_heads = header[4];
  c.tied_embeddings = header[5] > 0;
  c.vocab = header[5] == std::numeric_limits<int32_t>::min() ? 0 : std::abs(header[5]);
  c.max_positions = header[6];
  c.head_dim = c.n_heads > 0 ? c.hidden / c.n_heads : 0;
  c.norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  c.rope_layout = RopeLayout::kInterleaved;
  c.dtype = DType::F32;
  validate_config(c, name);
  if (c.head_dim * c.n_heads != c.hidden) {
    fail("{}: dim {} is not a multiple of n_heads {}", name, c.hidden, c.n_heads);
  }

  // Element counts in file order.
  const int64_t L = c.n_layers, dim = c.hidden, hidden = c.intermediate;
  const int64_t kv_dim = c.kv_dim();
  auto mul = [&](int64_t a, int64_t b) { return checked_multiply(a, b, name); };
  int64_t freq_cis = mul(c.max_positions, c.head_dim / 2);
  int64_t total = 0;
  auto add = [&](int64_t count) {
    int64_t at = total;
    if (count > std::numeric_limits<int64_t>::max() - total) fail("{}: tensor sizes overflow", name);
    total += count;
    return at;
  };
  int64_t at_embedding = add(mul(c.vocab, dim));
  int64_t at_attn_norm = add(mul(L, dim));
  int64_t at_wq = add(mul(L, mul(dim, dim)));
  int64_t at_wk = add(mul(L, mul(dim, kv_dim)));
  int64_t at_wv = add(mul(L, mul(dim, kv_dim)));
  int64_t at_wo = add(mul(L, mul(dim, dim)));
  int64_t at_ffn_norm = add(mul(L, dim));
  int64_t at_w1 = add(mul(L, mul(dim, hidden)));
  int64_t at_w2 = add(mul(L, mul(hidden, dim)));
  int64_t at_w3 = add(mul(L, mul(dim, hidden)));
  int64_t at_final_norm = add(dim);
  add(freq_cis);  // freq_cis_real, unused
  add(freq_cis);  // freq_cis_imag, unused
  int64_t at_classifier = c.tied_embeddings ? at_embedding : add(mul(c.vocab, dim));

  uint64_t expected = 28 + static_cast<uint64_t>(total) * 4;
  if (file->size() != expected) {
    fail("{}: file is {} bytes but its header (dim {}, hidden_dim {}, n_layers {}, n_heads {}, "
         "n_kv_heads {}, vocab_size {}, seq_len {}) implies {} bytes",
         name, file->size(), header[0], header[1], header[2], header[3], header[4], header[5],
         header[6], expected);
  }

  const auto* weights = reinterpret_cast<const float*>(file->data() + 28);
  auto matrix = [&](std::string tensor, int64_t offset, int64_t rows, int64_t cols) {
    return Matrix::dense(std::move(tensor), rows, cols, DType::F32, weights + offset, file);
  };
  auto vector = [&](int64_t offset, int64_t size) {
    std::vector<float> values(static_cast<size_t>(size));
    std::memcpy(values.data(), weights + offset, values.size() * sizeof(float));
    return values;
  };

  model.embedding = matrix("model.embed_tokens.weight", at_embedding, c.vocab, dim);
  model.layers.resize(static_cast<size_t>(L));
  for (int64_t i = 0; i < L; ++i) {
    LayerWeights& layer = model.layers[static_cast<size_t>(i)];
    auto module = [&](Projection p) { return projection_module(i, p) + ".weight"; };
    layer.attn_norm = vector(at_attn_norm + i * dim, dim);
    layer.ffn_norm = vector(at_ffn_norm + i * dim, dim);
    layer.q = matrix(module(Projection::kQ), at_wq + i * dim * dim, dim, dim);
    layer.k = matrix(module(Projection::kK), at_wk + i * dim * kv_dim, kv_dim, dim);
    layer.v = matrix(module(Projection::kV), at_wv + i * dim * kv_dim, kv_dim, dim);
    layer.o = matrix(module(Projection::kO), at_wo + i * dim * dim, dim, dim);
    layer.gate = matrix(module(Projection::kGate), at_w1 + i * dim * hidden, hidden, dim);
    layer.down = matrix(module(Projection::kDown), at_w2 + i * hidden * dim, dim, hidden);
    layer.up = matrix(module(Projection::kUp), at_w3 + i * dim * hidden, hidden, dim);
  }
  model.final_norm = vector(at_final_norm, dim);
  if (c.tied_embeddings) {
    model.output = Matrix("lm_head.weight", c.vocab, dim, model.embedding.storage_ptr());
  } else {
    model.output = matrix("lm_head.weight", at_classifier, c.vocab, dim);
  }
  model.source = path;
  model.source_kind = "llama2.c";
  return model;
}

}  // namespace optiq
