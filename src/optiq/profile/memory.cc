#include "optiq/profile/memory.h"

#include <unistd.h>

#include <algorithm>

#include "optiq/core/error.h"
#include "optiq/core/parallel.h"

namespace optiq {
namespace {

constexpr uint64_t kFloat = sizeof(float);

uint64_t mapped_bytes(const Model& model) {
  uint64_t bytes = model.embedding.storage_bytes();
  if (!model.config.tied_embeddings) bytes += model.output.storage_bytes();
  for (const LayerWeights& layer : model.layers) {
    for (Projection p : kAllProjections) bytes += layer.projection(p).storage_bytes();
  }
  return bytes;
}

// Buffers of one forward pass over n tokens, for `models` models at once.
uint64_t forward_buffers(const ModelConfig& c, int64_t n, int models) {
  const uint64_t kv_cache = 2 * static_cast<uint64_t>(c.n_layers * n * c.kv_dim());
  const uint64_t activations = static_cast<uint64_t>(
      n * (3 * c.hidden + 2 * c.q_dim() + 2 * c.kv_dim() + 2 * c.intermediate));
  const uint64_t logits = static_cast<uint64_t>(n * c.vocab);
  // Per-thread rows of log-probabilities in double precision.
  const uint64_t per_thread = 2 * static_cast<uint64_t>(c.vocab) * thread_count();
  return kFloat * (models * (kv_cache + activations + logits) + per_thread);
}

uint64_t decoded_weights(const ModelConfig& c) {
  const int64_t largest = std::max({c.vocab * c.hidden, c.intermediate * c.hidden,
                                    c.q_dim() * c.hidden});
  // The original and its quantized copy, plus a margin for the quantizer's
  // scratch (TinyLlama's output head measured about 2.2 copies at peak).
  return 5 * kFloat * static_cast<uint64_t>(largest) / 2;
}

}  // namespace

MemoryEstimate profile_memory(const Model& model, int64_t batch, int64_t seq_len) {
  const ModelConfig& c = model.config;
  MemoryEstimate estimate;
  estimate.batch = batch;
  estimate.mapped_weights = mapped_bytes(model);
  uint64_t states = kFloat * static_cast<uint64_t>(batch * seq_len * c.hidden * (c.n_layers + 1));
  if (batch * seq_len * c.vocab <= kMaxCachedLogProbs) {
    states += kFloat * static_cast<uint64_t>(batch * seq_len * c.vocab);
  }
  estimate.cached_states = states;
  // The reference logits of the output head's MSE double the logits.
  estimate.working = forward_buffers(c, seq_len, 2) + decoded_weights(c);
  return estimate;
}

MemoryEstimate fit_profile_memory(const Model& model, int64_t sequences, int64_t seq_len,
                                  uint64_t limit_bytes) {
  MemoryEstimate estimate = profile_memory(model, sequences, seq_len);
  if (limit_bytes == 0 || estimate.total() <= limit_bytes) return estimate;
  // The estimate grows with the batch, except where the log-prob cache
  // switches off; scan down from the largest batch.
  for (int64_t batch = sequences - 1; batch >= 1; --batch) {
    estimate = profile_memory(model, batch, seq_len);
    if (estimate.total() <= limit_bytes) return estimate;
  }
  fail("profiling needs {} bytes for one calibration sequence of {} tokens ({} bytes of cached "
       "states, {} bytes of working buffers), above the memory limit of {} bytes; raise "
       "--max-memory or lower --seq-len",
       estimate.total(), seq_len, estimate.cached_states, estimate.working, limit_bytes);
}

MemoryEstimate eval_memory(const Model& model, int64_t ctx, int models) {
  MemoryEstimate estimate;
  estimate.batch = 1;
  estimate.mapped_weights = mapped_bytes(model);
  estimate.working = forward_buffers(model.config, ctx, models);
  return estimate;
}

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
}

}  // namespace optiq
