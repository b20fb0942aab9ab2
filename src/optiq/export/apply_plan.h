// A plan applied in memory: the model with each planned tensor replaced by
// its quantized encoding, decoded on the fly like a loaded export. Used to
// evaluate uniform baselines and plans without writing files.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "optiq/model/model.h"
#include "optiq/plan/planner.h"

namespace optiq {

// Quantizes exactly as export_mlx does (same rounding, same importance), so
// the result decodes to the same values as the exported folder.
Model apply_plan(const Model& model, const Plan& plan,
                 const std::map<std::string, std::vector<float>>* importance);

// The matrix a plan entry refers to (q/k/v/o/gate/up/down, lm_head or
// model.embed_tokens); throws optiq::Error for an unknown module.
const Matrix& planned_matrix(const Model& model, const std::string& module);

}  // namespace optiq
