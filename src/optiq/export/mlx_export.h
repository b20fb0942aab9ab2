// Writes a mixed-precision model as an mlx-lm model folder.
//
// Layout (mlx-lm's, as its load() reads it): for each quantized linear,
// `<module>.weight` (uint32, codes packed from the lowest bits up),
// `<module>.scales` and `<module>.biases` ([out, in/group], in the scale
// dtype); unquantized tensors in the output dtype; config.json with
// "quantization": {"group_size": G, "bits": B, "<module>": {...} | false}
// for every module that differs from the default, copied as
// "quantization_config"; tokenizer files copied from the source.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "optiq/model/model.h"
#include "optiq/plan/planner.h"

namespace optiq {

struct MlxExportOptions {
  // Mean x² per input channel by module (from the profile); may be empty.
  const std::map<std::string, std::vector<float>>* importance = nullptr;
  // Tokenizer file to copy when the model is a llama2.c checkpoint.
  std::filesystem::path tokenizer;
  // Written into the folder as optiq_plan.json for provenance.
  bool write_plan = true;
};

struct MlxExportSummary {
  uint64_t tensor_bytes = 0;  // bytes of all tensors written
  uint64_t file_bytes = 0;    // size of model.safetensors
  int64_t quantized_modules = 0;
  int64_t float_modules = 0;
};

// Writes the folder atomically: on any error nothing is left at `output`.
// Throws optiq::Error when the plan does not match the model (a module
// missing, a shape mismatch, a format that does not apply) or a weight is
// not finite.
MlxExportSummary export_mlx(const Model& model, const Plan& plan, const std::filesystem::path& output,
                            const MlxExportOptions& options);

}  // namespace optiq
