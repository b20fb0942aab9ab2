// The transformer forward pass in FP32: many tokens at once through GEMM
// (prompt and calibration evaluation) or one at a time with a KV cache.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "optiq/kernels/rope.h"
#include "optiq/model/model.h"

namespace optiq {

// Keys and values of every layer for positions [0, length()).
class KVCache {
 public:
  KVCache(const ModelConfig& config, int64_t capacity);

  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }
  void clear() { length_ = 0; }
  void set_length(int64_t length) { length_ = length; }

  float* keys(int64_t layer, int64_t position) { return at(keys_, layer, position); }
  float* values(int64_t layer, int64_t position) { return at(values_, layer, position); }

 private:
  float* at(std::vector<float>& buffer, int64_t layer, int64_t position) {
    return buffer.data() + (layer * capacity_ + position) * kv_dim_;
  }

  int64_t capacity_;
  int64_t kv_dim_;
  int64_t length_ = 0;
  std::vector<float> keys_;    // [layer][position][kv_dim]
  std::vector<float> values_;  // [layer][position][kv_dim]
};

// Receives the input of the linear projections during forward passes (for
// activation statistics). Called once per distinct input: Projection::kQ for
// the q/k/v input, kO, kGate for the gate/up input, kDown; layer -1 with kQ
// for the output head's input. x is [n, cols]. Called from the thread that
// runs the forward pass.
class LinearInputObserver {
 public:
  virtual ~LinearInputObserver() = default;
  virtual void observe(int64_t layer, Projection projection, const float* x, int64_t n,
                       int64_t cols) = 0;
};

class Transformer {
 public:
  // Keeps a reference to `model`, which must outlive this object.
  explicit Transformer(const Model& model);

  const Model& model() const { return model_; }

  // nullptr disables observation. The observer must outlive its use.
  void set_observer(LinearInputObserver* observer) { observer_ = observer; }

  // Runs `tokens` at positions cache.length() onward, appends their keys and
  // values to the cache, and writes logits [tokens.size() - logits_from,
  // vocab] for tokens[logits_from..] into `logits` (resized).
  void forward(std::span<const int32_t> tokens, KVCache& cache, std::vector<float>& logits,
               int64_t logits_from = 0);

  // The pieces of forward(), for callers that cache hidden states per layer.
  // h is [n, hidden].
  void embed(std::span<const int32_t> tokens, float* h) const;
  // Runs layer `index` with `weights` on h (in place) for n tokens at
  // positions position0..; reads and extends the cache's keys/values of that
  // layer. Does not change cache.length().
  void run_layer(int64_t index, const LayerWeights& weights, float* h, int64_t n,
                 KVCache& cache, int64_t position0);
  // Final norm and output projection: logits [n, vocab].
  void head(const float* h, int64_t n, float* logits) const;
  // Same with an explicit output matrix (profiling swaps it).
  void head(const float* h, int64_t n, const Matrix& output, float* logits) const;

 private:
  void attention(int64_t index, const float* q, int64_t n, KVCache& cache, int64_t position0,
                 float* out) const;

  const Model& model_;
  RopeTable rope_;
  LinearInputObserver* observer_ = nullptr;
};

}  // namespace optiq
