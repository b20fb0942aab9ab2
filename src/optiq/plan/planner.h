// From a profile and a budget to a plan: one format per tensor minimising
// the summed damage under the byte budget (exact multiple-choice knapsack).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "optiq/plan/knapsack.h"
#include "optiq/plan/llama_cpp_recipes.h"
#include "optiq/profile/profile_io.h"

namespace optiq {

struct PlanRequest {
  // "4bpw", "3.2GB", "40%", ...; for a GGUF profile also a llama.cpp recipe
  // name ("Q4_K_M"): the size that recipe has on this model.
  std::string budget;
  std::string metric = "kl";  // "kl" or "mse"
  // "NAME_REGEX=FORMAT": tensors whose module name matches (std::regex,
  // ECMAScript, whole name) are held to FORMAT.
  std::vector<std::string> keep;
};

struct PlanEntry {
  ProfileTarget target;
  QuantFormat format;
  uint64_t bytes = 0;
  double damage = 0;  // under the plan's metric
  double kl = 0;
  double mse = 0;
  bool kept = false;  // held by a --keep rule
  std::string note;   // e.g. why a tensor stays unquantized
};

struct Plan {
  ExportFormat export_format = ExportFormat::kMlx;
  std::string metric;
  std::string budget_text;
  uint64_t budget_bytes = 0;
  uint64_t total_bytes = 0;  // everything written: entries + fixed_bytes
  uint64_t fixed_bytes = 0;
  int64_t total_params = 0;
  double bits_per_weight = 0;  // total_bytes * 8 / total_params
  double predicted_damage = 0;
  double lower_bound = 0;
  double gap = 0;
  bool proven_optimal = false;
  uint64_t nodes = 0;
  double solve_seconds = 0;
  DType output_dtype = DType::F16;
  DType scale_dtype = DType::F16;
  std::string model_hash;
  std::string model_path;
  std::string
      profile_path;  // the profile it came from (for importance vectors)
  std::vector<PlanEntry> entries;
};

// Throws optiq::Error for an unknown metric, a bad budget or keep rule, and
// an infeasible budget (stating the smallest and largest achievable sizes).
Plan make_plan(const ProfileDocument& profile, const PlanRequest& request);

// A plan that gives every tensor `format` where it applies and the output
// dtype elsewhere (uniform baselines), priced and scored from the profile.
// For a GGUF profile a ggml type that does not apply becomes its llama.cpp
// fallback. Throws optiq::Error when the profile did not measure a format
// the plan needs.
Plan make_uniform_plan(const ProfileDocument& profile,
                       const QuantFormat& format, const std::string& metric);

// llama.cpp's recipe on the profiled model (GGUF profiles only), priced
// and scored from the profile; errors as for make_uniform_plan.
Plan make_recipe_plan(const ProfileDocument& profile, LlamaCppRecipe recipe,
                      const std::string& metric);

void write_plan(const std::filesystem::path& path, const Plan& plan);

// Importance vectors of the plan's profile, or empty when the profile or its
// sidecar file is gone (quantization then weights all channels equally).
std::map<std::string, std::vector<float>> plan_importance(const Plan& plan);
Plan read_plan(const std::filesystem::path& path);

}  // namespace optiq
