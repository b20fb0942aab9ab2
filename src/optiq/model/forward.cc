#include "optiq/model/forward.h"

#include <cmath>
#include <algorithm>
#include <limits>

#include "optiq/core/error.h"
#include "optiq/core/parallel.h"
#include "optiq/kernels/matmul.h"
#include "optiq/kernels/ops.h"

namespace optiq {

KVCache::KVCache(const ModelConfig& config, int64_t capacity)
    : capacity_(capacity),
      kv_dim_(config.kv_dim()),
      keys_(static_cast<size_t>(config.n_layers * capacity * config.kv_dim())),
      values_(static_cast<size_t>(config.n_layers * capacity * config.kv_dim())) {}

Transformer::Transformer(const Model& model) : model_(model), rope_(model.config) {}

void Transformer::embed(std::span<const int32_t> tokens, float* h) const {
  const ModelConfig& c = model_.config;
  for (size_t t = 0; t < tokens.size(); ++t) {
    int32_t id = tokens[t];
    if (id < 0 || id >= c.vocab) fail("token id {} is outside the vocabulary of {}", id, c.vocab);
    model_.embedding.to_float_rows(id, id + 1, h + static_cast<int64_t>(t) * c.hidden);
  }
}

void Transformer::attention(int64_t index, const float* q, int64_t n, KVCache& cache,
                            int64_t position0, float* out) const {
  const ModelConfig& c = model_.config;
  const int64_t head_dim = c.head_dim;
  const int64_t group = c.n_heads / c.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int64_t window = c.sliding_window;
  // One task per (token, head); each writes its own output slice.
  parallel_for(n * c.n_heads, [&](int64_t task) {
    const int64_t t = task / c.n_heads;
    const int64_t h = task % c.n_heads;
    const int64_t position = position0 + t;
    const int64_t first = window > 0 ? std::max<int64_t>(0, position - window + 1) : 0;
    const float* query = q + t * c.q_dim() + h * head_dim;
    const int64_t kv_offset = (h / group) * head_dim;
    thread_local std::vector<float> scores;
    scores.resize(static_cast<size_t>(position - first + 1));
    for (int64_t p = first; p <= position; ++p) {
      const float* key = cache.keys(index, p) + kv_offset;
      float dot = 0.0f;
      for (int64_t i = 0; i < head_dim; ++i) dot += query[i] * key[i];
      scores[p - first] = dot * scale;
    }
    softmax(scores.data(), position - first + 1);
    float* result = out + t * c.q_dim() + h * head_dim;
    std::fill(result, result + head_dim, 0.0f);
    for (int64_t p = first; p <= position; ++p) {
      const float* value = cache.values(index, p) + kv_offset;
      const float weight = scores[p - first];
      for (int64_t i = 0; i < head_dim; ++i) result[i] += weight * value[i];
    }
  }, (position0 + n) * head_dim);
}

void Transformer::run_layer(int64_t index, const LayerWeights& w, float* h, int64_t n,
                            KVCache& cache, int64_t position0) {
  const ModelConfig& c = model_.config;
  if (position0 + n > cache.capacity()) {
    fail("sequence of {} tokens exceeds the KV cache capacity of {}", position0 + n,
         cache.capacity());
  }
  rope_.reserve(position0 + n);
  const int64_t hidden = c.hidden;
  std::vector<float> x(static_cast<size_t>(n * hidden));
  std::vector<float> q(static_cast<size_t>(n * c.q_dim()));
  std::vector<float> k(static_cast<size_t>(n * c.kv_dim()));
  std::vector<float> v(static_cast<size_t>(n * c.kv_dim()));

  // Attention block.
  rms_norm(h, w.attn_norm.data(), n, hidden, c.norm_eps, x.data());
  if (observer_) observer_->observe(index, Projection::kQ, x.data(), n, hidden);
  matmul(x.data(), n, w.q, q.data());
  matmul(x.data(), n, w.k, k.data());
  matmul(x.data(), n, w.v, v.data());
  if (!w.q_bias.empty()) {
    add_bias(q.data(), w.q_bias.data(), n, c.q_dim());
    add_bias(k.data(), w.k_bias.data(), n, c.kv_dim());
    add_bias(v.data(), w.v_bias.data(), n, c.kv_dim());
  }
  parallel_for(n, [&](int64_t t) {
    rope_.apply(q.data() + t * c.q_dim(), c.n_heads, position0 + t);
    rope_.apply(k.data() + t * c.kv_dim(), c.n_kv_heads, position0 + t);
    std::copy_n(k.data() + t * c.kv_dim(), c.kv_dim(), cache.keys(index, position0 + t));
    std::copy_n(v.data() + t * c.kv_dim(), c.kv_dim(), cache.values(index, position0 + t));
  }, c.q_dim() + c.kv_dim());
  std::vector<float> attended(static_cast<size_t>(n * c.q_dim()));
  attention(index, q.data(), n, cache, position0, attended.data());
  if (observer_) observer_->observe(index, Projection::kO, attended.data(), n, c.q_dim());
  matmul(attended.data(), n, w.o, x.data());
  for (int64_t i = 0; i < n * hidden; ++i) h[i] += x[i];

  // Feed-forward block (SwiGLU).
  rms_norm(h, w.ffn_norm.data(), n, hidden, c.norm_eps, x.data());
  if (observer_) observer_->observe(index, Projection::kGate, x.data(), n, hidden);
  std::vector<float> gate(static_cast<size_t>(n * c.intermediate));
  std::vector<float> up(static_cast<size_t>(n * c.intermediate));
  matmul(x.data(), n, w.gate, gate.data());
  matmul(x.data(), n, w.up, up.data());
  silu_multiply(gate.data(), up.data(), n * c.intermediate);
  if (observer_) observer_->observe(index, Projection::kDown, gate.data(), n, c.intermediate);
  matmul(gate.data(), n, w.down, x.data());
  for (int64_t i = 0; i < n * hidden; ++i) h[i] += x[i];
}

void Transformer::head(const float* h, int64_t n, float* logits) const {
  head(h, n, model_.output, logits);
}

void Transformer::head(const float* h, int64_t n, const Matrix& output, float* logits) const {
  const ModelConfig& c = model_.config;
  std::vector<float> x(static_cast<size_t>(n * c.hidden));
  rms_norm(h, model_.final_norm.data(), n, c.hidden, c.norm_eps, x.data());
  if (observer_) observer_->observe(-1, Projection::kQ, x.data(), n, c.hidden);
  matmul(x.data(), n, output, logits);
}

void Transformer::forward(std::span<const int32_t> tokens, KVCache& cache,
                          std::vector<float>& logits, int64_t logits_from) {
  const ModelConfig& c = model_.config;
  const int64_t n = static_cast<int64_t>(tokens.size());
  OPTIQ_ASSERT(logits_from >= 0 && logits_from <= n);
  const int64_t position0 = cache.length();
  std::vector<float> h(static_cast<size_t>(n * c.hidden));
  embed(tokens, h.data());
  for (int64_t i = 0; i < c.n_layers; ++i) {
    run_layer(i, model_.layers[static_cast<size_t>(i)], h.data(), n, cache, position0);
  }
  cache.set_length(position0 + n);
  logits.resize(static_cast<size_t>((n - logits_from) * c.vocab));
  head(h.data() + logits_from * c.hidden, n - logits_from, logits.data());
}

}  // namespace optiq
