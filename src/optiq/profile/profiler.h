// Sensitivity profiling: for each weight tensor and candidate format,
// quantize only that tensor and measure the damage on calibration tokens.
//
// Damage metrics:
//  - kl: mean over calibration positions of KL(full precision || perturbed)
//    of next-token distributions, in nats;
//  - mse: relative squared error of the perturbed decoder layer's output
//    hidden state (for the output head: of the logits),
//    sum (y' - y)^2 / sum y^2 over all positions.
// Full-precision hidden states at every layer boundary are computed once and
// cached, so perturbing layer l recomputes only layers l and above.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "optiq/model/model.h"
#include "optiq/profile/calibration.h"
#include "optiq/quant/format.h"

namespace optiq {

// The file the plan will be written as. It decides how candidates are priced:
//  - kMlx: unquantized tensors (norms, biases, the embedding unless
//    profiled) in the model's 16-bit dtype; formats whose group does not
//    divide a row are skipped;
//  - kGguf: norms and biases in F32, as llama.cpp stores them. The token
//    embedding is always profiled, because llama.cpp quantizes it, and the
//    unquantized candidate is F16. A ggml type whose block does not divide
//    a row is measured and priced as the type llama.cpp's quantize tool
//    writes instead (ggml_fallback_type).
enum class ExportFormat { kMlx, kGguf };

// One quantizable weight tensor.
struct ProfileTarget {
  std::string module;  // "model.layers.3.mlp.down_proj", "lm_head", "model.embed_tokens"
  enum class Kind { kProjection, kOutput, kEmbedding };
  Kind kind = Kind::kProjection;
  int64_t layer = 0;  // kProjection only
  Projection projection = Projection::kQ;
  int64_t rows = 0;
  int64_t cols = 0;
};

struct Measurement {
  QuantFormat format;
  uint64_t bytes = 0;
  double kl = 0;
  double mse = 0;
};

struct TensorProfile {
  ProfileTarget target;
  std::vector<Measurement> candidates;
  // Formats requested but not applicable (group or block size does not
  // divide the input size), by name.
  std::vector<std::string> skipped;
  // GGUF only: "Q4_K->Q5_0" for each requested type that was measured and
  // priced as its llama.cpp fallback.
  std::vector<std::string> fallbacks;
};

struct ProfileOptions {
  std::vector<QuantFormat> formats;
  bool measure_kl = true;
  bool measure_mse = true;
  bool include_embedding = false;
  ExportFormat export_format = ExportFormat::kMlx;
  // Calibration sequences whose hidden states are cached at once (0: all).
  // Smaller batches use less memory and give the same results. Each batch
  // re-quantizes every candidate, and more than one batch costs one extra
  // full-precision pass for the activation importance.
  int64_t batch = 0;
};

struct ProfileTiming {
  double reference_seconds = 0;  // full-precision pass and caches
  double quantize_seconds = 0;   // fake quantization
  double evaluate_seconds = 0;   // perturbed forward passes and metrics
  int64_t evaluations = 0;       // tensor x format pairs measured
  int64_t batches = 1;           // calibration batches (see ProfileOptions::batch)
};

struct ProfileResult {
  ExportFormat export_format = ExportFormat::kMlx;
  std::vector<TensorProfile> tensors;
  DType output_dtype = DType::F16;  // dtype of unquantized tensors in the output
  DType scale_dtype = DType::F16;   // dtype of affine scales and biases
  // Bytes of everything written that is not a profiled tensor (norms, biases,
  // embedding unless profiled), in output_dtype.
  uint64_t fixed_bytes = 0;
  int64_t total_params = 0;
  // Mean x² per input channel of each projection input, keyed by module
  // name, from the full-precision calibration pass.
  std::map<std::string, std::vector<float>> importance;
  ProfileTiming timing;
};

// The quantizable tensors of `model`, in a fixed order: per layer q, k, v, o,
// gate, up, down, then the output head (the shared embedding when tied),
// then the embedding when requested or the export is GGUF (llama.cpp
// quantizes it), and untied.
std::vector<ProfileTarget> profile_targets(const Model& model, bool include_embedding,
                                           ExportFormat format = ExportFormat::kMlx);

// The dtype optiq writes unquantized tensors in: the model's own F16/BF16,
// and F16 for F32 models; always F16 for GGUF.
DType output_dtype_for(const Model& model,
                       ExportFormat format = ExportFormat::kMlx);

// Bytes of everything written that is not one of `targets`: norms and
// biases (and an unprofiled embedding), in output_dtype_for(model) for MLX
// and F32 for GGUF.
uint64_t unplanned_bytes(const Model& model,
                         const std::vector<ProfileTarget>& targets,
                         ExportFormat format);

// The candidates profiled for a [rows, cols] tensor: the unquantized format
// first, then each requested format that applies, or for GGUF its fallback
// (each at most once). `skipped` and `fallbacks` receive what was not
// measured as requested, as in TensorProfile.
std::vector<QuantFormat> candidate_formats(
    const std::vector<QuantFormat>& requested, int64_t cols,
    ExportFormat format, DType output_dtype,
    std::vector<std::string>* skipped = nullptr,
    std::vector<std::string>* fallbacks = nullptr);

std::string_view export_format_name(ExportFormat format);
// Parses "mlx" or "gguf"; throws optiq::Error otherwise.
ExportFormat parse_export_format(std::string_view name);

// Progress callback: (step, step count, the tensor's profile so far). There
// is one step per tensor per calibration batch, and the numbers are running
// means over the batches measured so far.
using ProfileProgress = std::function<void(size_t, size_t, const TensorProfile&)>;

// Throws optiq::Error on NaN or infinite weights (naming the tensor) and on
// options that measure nothing.
ProfileResult run_profile(const Model& model, const CalibrationSet& calibration,
                          const ProfileOptions& options, const ProfileProgress& progress = {});

// Mean x² per input channel for each projection, from a full-precision pass
// over `calibration` (the profile computes the same as a by-product).
std::map<std::string, std::vector<float>> collect_importance(const Model& model,
                                                             const CalibrationSet& calibration);

// Returns the module's weight as floats; throws optiq::Error naming the
// tensor and the position of the first NaN or infinite value.
std::vector<float> checked_weights(const Matrix& matrix, const std::string& module);

}  // namespace optiq
