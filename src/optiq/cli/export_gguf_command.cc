// optiq export-gguf: write a model as a GGUF file for llama.cpp, every
// weight in one ggml type or each in the type a plan chose.
#include <cstdio>

#include "optiq/cli/commands.h"
#include "optiq/core/error.h"
#include "optiq/export/gguf_export.h"
#include "optiq/plan/llama_cpp_recipes.h"
#include "optiq/plan/planner.h"
#include "optiq/profile/profile_io.h"

namespace fs = std::filesystem;

namespace optiq::cli {
namespace {

struct ExportGgufOptions {
  std::string model;
  std::string tokenizer;
  std::string type = "F16";
  std::string plan;
  std::string recipe;
  std::string profile;
  std::string output;
};

// llama.cpp's recipe as a plan over `model`'s tensors (the exporter applies
// the block-size fallbacks).
Plan recipe_plan(const Model& model, LlamaCppRecipe recipe) {
  Plan plan;
  plan.export_format = ExportFormat::kGguf;
  std::vector<TensorProfile> tensors;
  for (const ProfileTarget& target : profile_targets(model, false, ExportFormat::kGguf)) {
    tensors.push_back({target, {}, {}, {}});
  }
  const RecipeModelShape shape = recipe_shape(tensors);
  for (const TensorProfile& t : tensors) {
    PlanEntry entry;
    entry.target = t.target;
    entry.format = QuantFormat::ggml_format(recipe_type(recipe, t.target, shape));
    plan.entries.push_back(entry);
  }
  return plan;
}

void run_export_gguf(const ExportGgufOptions& options) {
  const std::optional<GgmlType> type = parse_ggml_type(options.type);
  if (!type) {
    fail(
        "--type '{}' is not a ggml type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, "
        "Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)",
        options.type);
  }
  std::optional<LlamaCppRecipe> recipe;
  if (!options.recipe.empty()) {
    recipe = parse_llama_cpp_recipe(options.recipe);
    if (!recipe) {
      fail("--recipe '{}' is not one of Q2_K, Q3_K_M, Q4_K_M, Q5_K_M",
           options.recipe);
    }
    if (!options.plan.empty()) fail("give either --recipe or --plan, not both");
  }

  Model model = load_model(options.model);
  GgufVocab vocab = find_gguf_vocab(model, options.tokenizer);
  Plan plan;
  std::map<std::string, std::vector<float>> importance;
  GgufExportOptions export_options;
  export_options.name = fs::path(options.model).filename().string();
  if (!options.plan.empty()) {
    plan = read_plan(options.plan);
    const std::string hash = model_hash(model);
    if (hash != plan.model_hash) {
      fail(
          "the plan '{}' was made for model '{}' (hash {}), but '{}' has "
          "hash {}",
          options.plan, plan.model_path, plan.model_hash, options.model, hash);
    }
    importance = plan_importance(plan);
    export_options.importance = &importance;
  }
  if (recipe) plan = recipe_plan(model, *recipe);
  if (!options.profile.empty()) {
    ProfileDocument profile = read_profile(options.profile);
    if (profile.info.model_hash != model_hash(model)) {
      fail("the profile '{}' was made for model '{}' (hash {}), not '{}'",
           options.profile, profile.info.model_path, profile.info.model_hash,
           options.model);
    }
    importance = std::move(profile.result.importance);
    export_options.importance = &importance;
  }

  GgufExportSummary summary =
      export_gguf(model, options.plan.empty() && !recipe ? nullptr : &plan,
                  *type, &vocab,
                  options.output, export_options);

  std::printf("wrote %s: %lld tensors, %llu bytes", options.output.c_str(),
              static_cast<long long>(summary.tensor_count),
              static_cast<unsigned long long>(summary.file_bytes));
  for (const auto& [name, params] : summary.params_by_type) {
    std::printf(", %s %lld params", name.c_str(),
                static_cast<long long>(params));
  }
  if (summary.fallback_count > 0) {
    std::printf(" (%lld tensors fell back to another type)",
                static_cast<long long>(summary.fallback_count));
  }
  std::printf("\n");
}

}  // namespace

void register_export_gguf(CLI::App& app) {
  auto options = std::make_shared<ExportGgufOptions>();
  CLI::App* command = app.add_subcommand(
      "export-gguf", "Write a model as a GGUF file that llama.cpp loads");
  command
      ->add_option("model", options->model,
                   "Model folder or llama2.c checkpoint")
      ->required();
  command->add_option("--tokenizer", options->tokenizer,
                      "SentencePiece .model or llama2.c .bin vocabulary "
                      "(default: tokenizer.model in the model folder)");
  command->add_option("--type", options->type,
                      "ggml type of every 2-D weight the plan does not list "
                      "(F32, F16, BF16, Q8_0, Q4_K, ...)");
  command->add_option("--recipe", options->recipe,
                      "llama.cpp's type mix instead of one type: Q2_K, "
                      "Q3_K_M, Q4_K_M or Q5_K_M");
  command->add_option("--plan", options->plan,
                      "Plan written by optiq plan (ggml or float formats)");
  command->add_option("--profile", options->profile,
                      "Profile whose activation importance weights the "
                      "quantization error (as llama.cpp's imatrix does)");
  command->add_option("-o,--output", options->output, "Output .gguf file")
      ->required();
  command->callback([options] { run_export_gguf(*options); });
}

}  // namespace optiq::cli
