#include "optiq/export/apply_plan.h"

#include "optiq/core/error.h"
#include "optiq/profile/profiler.h"
#include "optiq/quant/affine.h"

namespace optiq {
namespace {

class OwnedAffineStorage : public MatrixStorage {
 public:
  explicit OwnedAffineStorage(AffineQuantized quantized) : q_(std::move(quantized)) {}
  void to_float_rows(int64_t cols, int64_t row_begin, int64_t row_end, float* out) const override {
    dequantize_affine_rows(q_.packed.data(), q_.scales.data(), q_.biases.data(), q_.scale_dtype,
                           cols, q_.format, row_begin, row_end, out);
  }
  uint64_t storage_bytes(int64_t rows, int64_t cols) const override {
    return affine_storage_bytes(rows, cols, q_.format, q_.scale_dtype);
  }
  std::string format_name() const override {
    return "a" + std::to_string(q_.format.bits) + "g" + std::to_string(q_.format.group_size);
  }

 private:
  AffineQuantized q_;
};

Matrix& planned_matrix_mutable(Model& model, const std::string& module) {
  return const_cast<Matrix&>(planned_matrix(model, module));
}

}  // namespace

const Matrix& planned_matrix(const Model& model, const std::string& module) {
  if (module == "lm_head") return model.output;
  if (module == "model.embed_tokens") return model.embedding;
  for (size_t l = 0; l < model.layers.size(); ++l) {
    for (Projection p : kAllProjections) {
      if (projection_module(static_cast<int64_t>(l), p) == module) return model.layers[l].projection(p);
    }
  }
  fail("plan names module '{}', which the model does not have", module);
}

Model apply_plan(const Model& model, const Plan& plan,
                 const std::map<std::string, std::vector<float>>* importance) {
  Model result = model;
  bool embedding_planned = false;
  for (const PlanEntry& entry : plan.entries) {
    const Matrix& source = planned_matrix(model, entry.target.module);
    if (source.rows() != entry.target.rows || source.cols() != entry.target.cols) {
      fail("plan gives '{}' shape [{}, {}] but the model has [{}, {}]", entry.target.module,
           entry.target.rows, entry.target.cols, source.rows(), source.cols());
    }
    std::vector<float> weights = checked_weights(source, entry.target.module);
    const float* channel_weights = nullptr;
    if (importance) {
      auto found = importance->find(entry.target.module);
      if (found != importance->end() && static_cast<int64_t>(found->second.size()) == source.cols()) {
        channel_weights = found->second.data();
      }
    }
    Matrix replacement;
    if (entry.format.kind == QuantFormat::Kind::kAffine) {
      AffineOptions options;
      options.search_clipping = true;
      options.importance = channel_weights;
      AffineQuantized q = quantize_affine(weights.data(), source.rows(), source.cols(),
                                          entry.format.affine, plan.scale_dtype, options);
      replacement = Matrix(source.name(), source.rows(), source.cols(),
                           std::make_shared<OwnedAffineStorage>(std::move(q)));
    } else {
      std::vector<float> rounded(weights.size());
      // ggml types use the importance exactly as the GGUF writer does.
      fake_quantize(entry.format, weights.data(), source.rows(), source.cols(), plan.scale_dtype,
                    channel_weights, rounded.data());
      replacement = Matrix::from_floats(source.name(), source.rows(), source.cols(), std::move(rounded));
    }
    planned_matrix_mutable(result, entry.target.module) = replacement;
    if (entry.target.module == "model.embed_tokens" && model.config.tied_embeddings) {
      result.output = replacement;
    }
    if (entry.target.module == "model.embed_tokens") embedding_planned = true;
  }

  // Everything else is written in the output dtype (MLX) or F32 (GGUF norms
  // and biases): round it the same way.
  const bool gguf = plan.export_format == ExportFormat::kGguf;
  auto round = [&](std::vector<float>& values) {
    if (values.empty() || gguf) return;
    fake_quantize(QuantFormat::float_format(plan.output_dtype), values.data(), 1,
                  static_cast<int64_t>(values.size()), plan.scale_dtype, nullptr, values.data());
  };
  for (LayerWeights& layer : result.layers) {
    round(layer.attn_norm);
    round(layer.ffn_norm);
    round(layer.q_bias);
    round(layer.k_bias);
    round(layer.v_bias);
  }
  round(result.final_norm);
  if (!embedding_planned) {
    std::vector<float> values = checked_weights(model.embedding, "model.embed_tokens");
    round(values);
    result.embedding = Matrix::from_floats(model.embedding.name(), model.embedding.rows(),
                                           model.embedding.cols(), std::move(values));
  }
  return result;
}

}  // namespace optiq
