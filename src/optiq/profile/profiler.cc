#include "optiq/profile/profiler.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "optiq/core/error.h"
#include "optiq/core/parallel.h"
#include "optiq/eval/perplexity.h"
#include "optiq/model/forward.h"
#include "optiq/profile/importance.h"
#include "optiq/profile/memory.h"

namespace optiq {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Running sums of one tensor x format measurement over the calibration
// sequences, added in sequence order so that any batch size gives the same
// bits.
struct Accumulator {
  double kl_sum = 0;
  double error_sum = 0;
  double reference_sum = 0;
};

class ProfileEngine {
 public:
  ProfileEngine(const Model& model, const CalibrationSet& calibration,
                const ProfileOptions& options)
      : model_(model), calibration_(calibration), options_(options) {}

  ProfileResult run(const ProfileProgress& progress);

 private:
  // Caches hidden states (and log-probs when they fit) of sequences
  // [first, first + count); feeds `collector` when not null.
  void reference_pass(int64_t first, int64_t count, ImportanceCollector* collector);
  void base_log_probs(int64_t s, std::vector<float>& out);
  void measure(const ProfileTarget& target, const Measurement& m,
               const std::vector<float>& weights, Accumulator& sums);
  // Runs `perturbed` (one tensor replaced) over the batch and adds to sums.
  void evaluate(const ProfileTarget& target, const Model& perturbed, Accumulator& sums);
  double sequence_kl(int64_t s, const float* logits);

  const Model& model_;
  const CalibrationSet& calibration_;
  const ProfileOptions& options_;
  int64_t n_ = 0;      // tokens per sequence
  int64_t first_ = 0;  // first sequence of the cached batch
  int64_t batch_ = 0;  // sequences in the cached batch
  // hidden_[l]: input of layer l for the batch's sequences, [batch, n,
  // hidden]; hidden_[L]: the final hidden states before the norm.
  std::vector<std::vector<float>> hidden_;
  std::vector<float> log_probs_;  // [batch, n, vocab] when cached
  std::map<std::string, std::vector<float>> importance_;
  ProfileResult result_;
};

void ProfileEngine::reference_pass(int64_t first, int64_t count, ImportanceCollector* collector) {
  const ModelConfig& c = model_.config;
  first_ = first;
  batch_ = count;
  n_ = calibration_.seq_len;
  hidden_.resize(static_cast<size_t>(c.n_layers + 1));
  for (std::vector<float>& h : hidden_) h.resize(static_cast<size_t>(count * n_ * c.hidden));
  Transformer transformer(model_);
  if (collector) transformer.set_observer(collector);
  KVCache cache(c, n_);
  const bool cache_log_probs = count * n_ * c.vocab <= kMaxCachedLogProbs;
  log_probs_.resize(cache_log_probs ? static_cast<size_t>(count * n_ * c.vocab) : 0);
  std::vector<float> h(static_cast<size_t>(n_ * c.hidden));
  std::vector<float> logits(static_cast<size_t>(n_ * c.vocab));
  std::vector<double> row;
  for (int64_t s = 0; s < count; ++s) {
    transformer.embed(calibration_.sequences[first + s], h.data());
    for (int64_t l = 0; l < c.n_layers; ++l) {
      std::copy(h.begin(), h.end(), hidden_[l].begin() + s * n_ * c.hidden);
      transformer.run_layer(l, model_.layers[l], h.data(), n_, cache, 0);
    }
    std::copy(h.begin(), h.end(), hidden_[c.n_layers].begin() + s * n_ * c.hidden);
    if (!cache_log_probs && !collector) continue;
    transformer.head(h.data(), n_, logits.data());  // also feeds the head's importance
    if (!cache_log_probs) continue;
    for (int64_t t = 0; t < n_; ++t) {
      log_softmax(logits.data() + t * c.vocab, c.vocab, row);
      float* out = log_probs_.data() + (s * n_ + t) * c.vocab;
      for (int64_t i = 0; i < c.vocab; ++i) out[i] = static_cast<float>(row[i]);
    }
  }
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

void ProfileEngine::evaluate(const ProfileTarget& target, const Model& perturbed,
                             Accumulator& sums) {
  const ModelConfig& c = model_.config;
  Transformer transformer(perturbed);
  KVCache cache(c, n_);
  std::vector<float> h(static_cast<size_t>(n_ * c.hidden));
  std::vector<float> logits(static_cast<size_t>(n_ * c.vocab));
  std::vector<float> reference_logits;
  auto accumulate_error = [&](const float* value, const float* reference, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      double d = static_cast<double>(value[i]) - reference[i];
      sums.error_sum += d * d;
      sums.reference_sum += static_cast<double>(reference[i]) * reference[i];
    }
  };
  for (int64_t s = 0; s < batch_; ++s) {
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
      transformer.embed(calibration_.sequences[first_ + s], h.data());
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
    if (options_.measure_kl) sums.kl_sum += sequence_kl(s, logits.data());
  }
}

void ProfileEngine::measure(const ProfileTarget& target, const Measurement& m,
                            const std::vector<float>& weights, Accumulator& sums) {
  auto start = Clock::now();
  auto found = importance_.find(target.module);
  const float* importance = found == importance_.end() ? nullptr : found->second.data();
  std::vector<float> quantized(weights.size());
  fake_quantize(m.format, weights.data(), target.rows, target.cols, result_.scale_dtype,
                importance, quantized.data());
  result_.timing.quantize_seconds += seconds_since(start);
  if (quantized == weights) return;  // stored exactly: no damage

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
  evaluate(target, perturbed, sums);
  result_.timing.evaluate_seconds += seconds_since(start);
  if (first_ == 0) ++result_.timing.evaluations;
}

ProfileResult ProfileEngine::run(const ProfileProgress& progress) {
  if (!options_.measure_kl && !options_.measure_mse) fail("no metric to measure: use kl, mse or both");
  if (options_.formats.empty()) fail("no candidate formats to profile");
  const ExportFormat export_format = options_.export_format;
  result_.export_format = export_format;
  result_.output_dtype = output_dtype_for(model_, export_format);
  result_.scale_dtype = output_dtype_for(model_);
  result_.total_params = parameter_count(model_);

  const std::vector<ProfileTarget> targets = profile_targets(model_, options_.include_embedding, export_format);
  result_.fixed_bytes = unplanned_bytes(model_, targets, export_format);
  std::vector<TensorProfile>& profiles = result_.tensors;
  for (const ProfileTarget& target : targets) {
    TensorProfile profile;
    profile.target = target;
    for (const QuantFormat& f :
         candidate_formats(options_.formats, target.cols, export_format, result_.output_dtype,
                           &profile.skipped, &profile.fallbacks)) {
      Measurement m;
      m.format = f;
      m.bytes = f.bytes(target.rows, target.cols, result_.scale_dtype);
      profile.candidates.push_back(m);
    }
    profiles.push_back(std::move(profile));
  }

  const int64_t S = static_cast<int64_t>(calibration_.sequences.size());
  const int64_t batch = options_.batch > 0 ? std::min(options_.batch, S) : S;
  const int64_t batches = (S + batch - 1) / batch;
  result_.timing.batches = batches;
  ImportanceCollector collector(model_);
  auto start = Clock::now();
  if (batches > 1) {
    // Quantizing needs the importance of all sequences before the first
    // batch is measured.
    importance_ = collect_importance(model_, calibration_);
  }
  result_.timing.reference_seconds += seconds_since(start);

  std::vector<std::vector<Accumulator>> sums(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) sums[i].resize(profiles[i].candidates.size());
  for (int64_t b = 0; b < batches; ++b) {
    start = Clock::now();
    reference_pass(b * batch, std::min(batch, S - b * batch), batches == 1 ? &collector : nullptr);
    if (batches == 1) importance_ = collector.result();
    result_.timing.reference_seconds += seconds_since(start);
    const double positions = static_cast<double>((first_ + batch_) * n_);
    for (size_t i = 0; i < targets.size(); ++i) {
      const ProfileTarget& target = targets[i];
      const Matrix& matrix =
          target.kind == ProfileTarget::Kind::kProjection
              ? model_.layers[target.layer].projection(target.projection)
              : target.kind == ProfileTarget::Kind::kOutput ? model_.output : model_.embedding;
      const std::vector<float> weights = checked_weights(matrix, target.module);
      TensorProfile& profile = profiles[i];
      for (size_t j = 0; j < profile.candidates.size(); ++j) {
        Measurement& m = profile.candidates[j];
        measure(target, m, weights, sums[i][j]);
        m.kl = sums[i][j].kl_sum / positions;
        m.mse = sums[i][j].reference_sum > 0 ? sums[i][j].error_sum / sums[i][j].reference_sum : 0.0;
      }
      if (progress) progress(b * targets.size() + i, batches * targets.size(), profile);
    }
  }
  result_.importance = importance_;
  return std::move(result_);
}

}  // namespace

DType output_dtype_for(const Model& model, ExportFormat format) {
  if (format == ExportFormat::kGguf) return DType::F16;
  DType stored = model.embedding.empty() ? DType::F16 : model.config.dtype;
  return stored == DType::BF16 ? DType::BF16 : DType::F16;
}

uint64_t unplanned_bytes(const Model& model, const std::vector<ProfileTarget>& targets,
                         ExportFormat format) {
  int64_t planned = 0;
  for (const ProfileTarget& t : targets) planned += t.rows * t.cols;
  const int64_t rest = parameter_count(model) - planned;
  const size_t width = format == ExportFormat::kGguf ? 4 : dtype_size(output_dtype_for(model));
  return static_cast<uint64_t>(rest) * width;
}

std::vector<QuantFormat> candidate_formats(const std::vector<QuantFormat>& requested,
                                           int64_t cols, ExportFormat format,
                                           DType output_dtype,
                                           std::vector<std::string>* skipped,
                                           std::vector<std::string>* fallbacks) {
  std::vector<QuantFormat> formats = {QuantFormat::float_format(output_dtype)};
  for (const QuantFormat& f : requested) {
    if (f.is_float()) continue;
    QuantFormat chosen = f;
    if (!f.applies_to(cols)) {
      const bool can_fall_back =
          format == ExportFormat::kGguf && f.kind == QuantFormat::Kind::kGgml;
      const GgmlType fallback = can_fall_back ? ggml_fallback_type(f.ggml, cols) : GgmlType::F16;
      if (fallback == GgmlType::F16) {
        if (skipped) skipped->push_back(f.name());
        continue;
      }
      chosen = QuantFormat::ggml_format(fallback);
      if (fallbacks) fallbacks->push_back(f.name() + "->" + chosen.name());
    }
    if (std::find(formats.begin(), formats.end(), chosen) == formats.end()) {
      formats.push_back(chosen);
    }
  }
  return formats;
}

std::string_view export_format_name(ExportFormat format) {
  return format == ExportFormat::kGguf ? "gguf" : "mlx";
}

ExportFormat parse_export_format(std::string_view name) {
  if (name == "mlx") return ExportFormat::kMlx;
  if (name == "gguf") return ExportFormat::kGguf;
  fail("invalid output format '{}': expected mlx or gguf", name);
}

std::vector<ProfileTarget> profile_targets(const Model& model, bool include_embedding,
                                           ExportFormat format) {
  include_embedding = include_embedding || format == ExportFormat::kGguf;
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
