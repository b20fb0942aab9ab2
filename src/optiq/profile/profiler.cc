#include "optiq/profile/profiler.h"

#include <chrono>
#include <cmath>

#include "optiq/core/error.h"
#include "optiq/core/parallel.h"
#include "optiq/eval/perplexity.h"
#include "optiq/model/forward.h"
#include "optiq/profile/importance.h"

namespace optiq {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Base log-probabilities are cached when they fit in this many floats (1 GiB);
// beyond that they are recomputed from the cached final hidden states.
constexpr int64_t kMaxCachedLogProbs = int64_t{1} << 28;

class ProfileEngine {
 public:
  ProfileEngine(const Model& model, const CalibrationSet& calibration,
                const ProfileOptions& options)
      : model_(model), calibration_(calibration), options_(options) {}

  ProfileResult run(const ProfileProgress& progress);

 private:
  void reference_pass();
  void base_log_probs(int64_t s, std::vector<float>& out);
  Measurement measure(const ProfileTarget& target, const QuantFormat& format,
                      const std::vector<float>& weights);
  // Evaluates `perturbed` (one tensor replaced) and fills kl and mse.
  void evaluate(const ProfileTarget& target, const Model& perturbed, Measurement& m);
  double sequence_kl(int64_t s, const float* logits);

  const Model& model_;
  const CalibrationSet& calibration_;
  const ProfileOptions& options_;
  int64_t n_ = 0;  // tokens per sequence
  // hidden_[l]: input of layer l for all sequences, [S, n, hidden];
  // hidden_[L]: the final hidden states before the norm.
  std::vector<std::vector<float>> hidden_;
  std::vector<float> log_probs_;  // [S, n, vocab] when cached
  std::map<std::string, std::vector<float>> importance_;
  ProfileResult result_;
};

void ProfileEngine::reference_pass() {
  const ModelConfig& c = model_.config;
  const int64_t S = static_cast<int64_t>(calibration_.sequences.size());
  n_ = calibration_.seq_len;
  hidden_.assign(static_cast<size_t>(c.n_layers + 1),
                 std::vector<float>(static_cast<size_t>(S * n_ * c.hidden)));
  Transformer transformer(model_);
  ImportanceCollector collector(model_);
  transformer.set_observer(&collector);
  KVCache cache(c, n_);
  const bool cache_log_probs = S * n_ * c.vocab <= kMaxCachedLogProbs;
  if (cache_log_probs) log_probs_.resize(static_cast<size_t>(S * n_ * c.vocab));
  std::vector<float> h(static_cast<size_t>(n_ * c.hidden));
  std::vector<float> logits(static_cast<size_t>(n_ * c.vocab));
  std::vector<double> row;
  for (int64_t s = 0; s < S; ++s) {
    transformer.embed(calibration_.sequences[s], h.data());
    for (int64_t l = 0; l < c.n_layers; ++l) {
      std::copy(h.begin(), h.end(), hidden_[l].begin() + s * n_ * c.hidden);
      transformer.run_layer(l, model_.layers[l], h.data(), n_, cache, 0);
    }
    std::copy(h.begin(), h.end(), hidden_[c.n_layers].begin() + s * n_ * c.hidden);
    transformer.head(h.data(), n_, logits.data());  // also feeds the head's importance
    if (cache_log_probs) {
      for (int64_t t = 0; t < n_; ++t) {
        log_softmax(logits.data() + t * c.vocab, c.vocab, row);
        float* out = log_probs_.data() + (s * n_ + t) * c.vocab;
        for (int64_t i = 0; i < c.vocab; ++i) out[i] = static_cast<float>(row[i]);
      }
    }
  }
  importance_ = collector.result();
}

void ProfileEngine::base_log_probs(int64_t s, std::vector<float>& out) {
  const ModelConfig& c = model_.config;
  out.resize(static_cast<size_t>(n_ * c.vocab));
  if (!log_probs_.empty()) {
    std::copy_n(log_probs_.data() + s * n_ * c.vocab, n_ * c.vocab, out.data());
    return;
  }
  Transformer transformer(model_);
  std::vector<float> logits(static_cast<size_t>(n_ * c.vocab));
  transformer.head(hidden_[c.n_layers].data() + s * n_ * c.hidden, n_, logits.data());
  std::vector<double> row;
  for (int64_t t = 0; t < n_; ++t) {
    log_softmax(logits.data() + t * c.vocab, c.vocab, row);
    for (int64_t i = 0; i < c.vocab; ++i) out[t * c.vocab + i] = static_cast<float>(row[i]);
  }
}

double ProfileEngine::sequence_kl(int64_t s, const float* logits) {
  const int64_t vocab = model_.config.vocab;
  thread_local std::vector<float> base;
  base_log_probs(s, base);
  const float* base_data = base.data();
  std::vector<double> per_position(static_cast<size_t>(n_));
  parallel_for(n_, [&](int64_t t) {
    std::vector<double> candidate;
    log_softmax(logits + t * vocab, vocab, candidate);
    const float* b = base_data + t * vocab;
    double kl = 0;
    for (int64_t i = 0; i < vocab; ++i) kl += std::exp(static_cast<double>(b[i])) * (b[i] - candidate[i]);
    per_position[t] = std::max(kl, 0.0);
  }, vocab * 4);
  double sum = 0;
  for (double v : per_position) sum += v;
  return sum;
}

void ProfileEngine::evaluate(const ProfileTarget& target, const Model& perturbed, Measurement& m) {
  const ModelConfig& c = model_.config;
  const int64_t S = static_cast<int64_t>(calibration_.sequences.size());
  Transformer transformer(perturbed);
  KVCache cache(c, n_);
  std::vector<float> h(static_cast<size_t>(n_ * c.hidden));
  std::vector<float> logits(static_cast<size_t>(n_ * c.vocab));
  std::vector<float> reference_logits;
  double kl_sum = 0, error_sum = 0, reference_sum = 0;
  auto accumulate_error = [&](const float* value, const float* reference, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      double d = static_cast<double>(value[i]) - reference[i];
      error_sum += d * d;
      reference_sum += static_cast<double>(reference[i]) * reference[i];
    }
  };
  for (int64_t s = 0; s < S; ++s) {
    const int64_t offset = s * n_ * c.hidden;
    int64_t first_layer = 0;
    if (target.kind == ProfileTarget::Kind::kProjection) {
      first_layer = target.layer;
      std::copy_n(hidden_[first_layer].data() + offset, n_ * c.hidden, h.data());
      transformer.run_layer(first_layer, perturbed.layers[first_layer], h.data(), n_, cache, 0);
      if (options_.measure_mse) {
        accumulate_error(h.data(), hidden_[first_layer + 1].data() + offset, n_ * c.hidden);
      }
      if (!options_.measure_kl) continue;
      ++first_layer;
    } else if (target.kind == ProfileTarget::Kind::kOutput && !c.tied_embeddings) {
      first_layer = c.n_layers;
      std::copy_n(hidden_[c.n_layers].data() + offset, n_ * c.hidden, h.data());
    } else {
      // The embedding (tied or not) changes every layer's input.
      transformer.embed(calibration_.sequences[s], h.data());
      if (target.kind == ProfileTarget::Kind::kEmbedding && options_.measure_mse) {
        accumulate_error(h.data(), hidden_[0].data() + offset, n_ * c.hidden);
      }
    }
    for (int64_t l = first_layer; l < c.n_layers; ++l) {
      transformer.run_layer(l, perturbed.layers[l], h.data(), n_, cache, 0);
    }
    transformer.head(h.data(), n_, logits.data());
    if (target.kind == ProfileTarget::Kind::kOutput && options_.measure_mse) {
      reference_logits.resize(logits.size());
      Transformer reference(model_);
      reference.head(hidden_[c.n_layers].data() + offset, n_, reference_logits.data());
      accumulate_error(logits.data(), reference_logits.data(), n_ * c.vocab);
    }
    if (options_.measure_kl) kl_sum += sequence_kl(s, logits.data());
  }
  m.kl = kl_sum / static_cast<double>(S * n_);
  m.mse = reference_sum > 0 ? error_sum / reference_sum : 0.0;
}

Measurement ProfileEngine::measure(const ProfileTarget& target, const QuantFormat& format,
                                   const std::vector<float>& weights) {
  Measurement m;
  m.format = format;
  m.bytes = format.bytes(target.rows, target.cols, result_.scale_dtype);
  auto start = Clock::now();
  auto found = importance_.find(target.module);
  const float* importance = found == importance_.end() ? nullptr : found->second.data();
  std::vector<float> quantized(weights.size());
  fake_quantize(format, weights.data(), target.rows, target.cols, result_.scale_dtype, importance,
                quantized.data());
  result_.timing.quantize_seconds += seconds_since(start);
  if (quantized == weights) return m;  // stored exactly: no damage

  start = Clock::now();
  Model perturbed = model_;
  Matrix replacement = Matrix::from_floats(target.module + ".weight", target.rows, target.cols,
                                           std::move(quantized));
  switch (target.kind) {
    case ProfileTarget::Kind::kProjection:
      perturbed.layers[target.layer].projection(target.projection) = replacement;
      break;
    case ProfileTarget::Kind::kOutput:
      perturbed.output = replacement;
      if (model_.config.tied_embeddings) perturbed.embedding = replacement;
      break;
    case ProfileTarget::Kind::kEmbedding:
      perturbed.embedding = replacement;
      break;
  }
  evaluate(target, perturbed, m);
  result_.timing.evaluate_seconds += seconds_since(start);
  ++result_.timing.evaluations;
  return m;
}

ProfileResult ProfileEngine::run(const ProfileProgress& progress) {
  if (!options_.measure_kl && !options_.measure_mse) fail("no metric to measure: use kl, mse or both");
  if (options_.formats.empty()) fail("no candidate formats to profile");
  result_.output_dtype = output_dtype_for(model_);
  result_.scale_dtype = result_.output_dtype;
  result_.total_params = parameter_count(model_);

  auto start = Clock::now();
  reference_pass();
  result_.timing.reference_seconds = seconds_since(start);
  result_.importance = importance_;

  std::vector<ProfileTarget> targets = profile_targets(model_, options_.include_embedding);
  int64_t profiled_params = 0;
  for (const ProfileTarget& t : targets) profiled_params += t.rows * t.cols;
  result_.fixed_bytes = static_cast<uint64_t>(result_.total_params - profiled_params) *
                        dtype_size(result_.output_dtype);

  for (size_t i = 0; i < targets.size(); ++i) {
    const ProfileTarget& target = targets[i];
    const Matrix& matrix =
        target.kind == ProfileTarget::Kind::kProjection
            ? model_.layers[target.layer].projection(target.projection)
            : target.kind == ProfileTarget::Kind::kOutput ? model_.output : model_.embedding;
    std::vector<float> weights = checked_weights(matrix, target.module);
    TensorProfile profile;
    profile.target = target;
    // The unquantized choice, in the output dtype, is always a candidate.
    std::vector<QuantFormat> formats = {QuantFormat::float_format(result_.output_dtype)};
    for (const QuantFormat& f : options_.formats) {
      if (f.is_float()) continue;
      if (!f.applies_to(target.cols)) {
        profile.skipped.push_back(f.name());
        continue;
      }
      formats.push_back(f);
    }
    for (const QuantFormat& f : formats) profile.candidates.push_back(measure(target, f, weights));
    if (progress) progress(i, targets.size(), profile);
    result_.tensors.push_back(std::move(profile));
  }
  return std::move(result_);
}

}  // namespace

DType output_dtype_for(const Model& model) {
  DType stored = model.embedding.empty() ? DType::F16 : model.config.dtype;
  return stored == DType::BF16 ? DType::BF16 : DType::F16;
}

std::vector<ProfileTarget> profile_targets(const Model& model, bool include_embedding) {
  const ModelConfig& c = model.config;
  std::vector<ProfileTarget> targets;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    for (Projection p : kAllProjections) {
      const Matrix& m = model.layers[l].projection(p);
      targets.push_back({projection_module(l, p), ProfileTarget::Kind::kProjection, l, p, m.rows(),
                         m.cols()});
    }
  }
  ProfileTarget head;
  head.kind = ProfileTarget::Kind::kOutput;
  head.module = c.tied_embeddings ? "model.embed_tokens" : "lm_head";
  head.rows = c.vocab;
  head.cols = c.hidden;
  targets.push_back(head);
  if (include_embedding && !c.tied_embeddings) {
    ProfileTarget embedding = head;
    embedding.kind = ProfileTarget::Kind::kEmbedding;
    embedding.module = "model.embed_tokens";
    targets.push_back(embedding);
  }
  return targets;
}

std::vector<float> checked_weights(const Matrix& matrix, const std::string& module) {
  std::vector<float> weights = matrix.to_floats();
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i])) {
      const int64_t cols = matrix.cols();
      fail("tensor '{}.weight' has a non-finite value {} at [{}, {}]", module, weights[i],
           static_cast<int64_t>(i) / cols, static_cast<int64_t>(i) % cols);
    }
  }
  return weights;
}

ProfileResult run_profile(const Model& model, const CalibrationSet& calibration,
                          const ProfileOptions& options, const ProfileProgress& progress) {
  ProfileEngine engine(model, calibration, options);
  return engine.run(progress);
}

std::map<std::string, std::vector<float>> collect_importance(const Model& model,
                                                             const CalibrationSet& calibration) {
  const ModelConfig& c = model.config;
  Transformer transformer(model);
  ImportanceCollector collector(model);
  transformer.set_observer(&collector);
  KVCache cache(c, calibration.seq_len);
  std::vector<float> logits;
  for (const std::vector<int32_t>& sequence : calibration.sequences) {
    cache.clear();
    transformer.forward(sequence, cache, logits, /*logits_from=*/0);
  }
  return collector.result();
}

}  // namespace optiq
