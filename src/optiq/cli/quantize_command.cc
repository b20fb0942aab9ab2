// optiq quantize: write a mixed-precision MLX model folder or GGUF file,
// either from a saved plan or in one command (profile, plan, export,
// report). The plan's export format decides which.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "optiq/cli/commands.h"
#include "optiq/cli/plan_printing.h"
#include "optiq/cli/profile_options.h"
#include "optiq/cli/report.h"
#include "optiq/core/error.h"
#include "optiq/export/gguf_export.h"
#include "optiq/export/mlx_export.h"
#include "optiq/plan/budget.h"
#include "optiq/profile/profiler.h"

namespace fs = std::filesystem;

namespace optiq::cli {
namespace {

struct QuantizeOptions {
  std::string model;
  std::string tokenizer;
  std::string output;
  std::string plan;
  std::string profile;
  PlanRequest request;
  ProfileCommandOptions profiling;
  ReportOptions report;
};

// Fails before any model run when no choice of the candidate formats fits the
// budget: sizes depend only on shapes.
void check_budget_reachable(const Model& model, const QuantizeOptions& options) {
  if (parse_llama_cpp_recipe(options.request.budget)) return;
  const ExportFormat format = export_format_of(options.profiling);
  const std::vector<QuantFormat> requested = requested_formats(options.profiling);
  std::vector<ProfileTarget> targets = profile_targets(model, options.profiling.include_embedding, format);
  const DType output = output_dtype_for(model, format);
  const DType scales = output_dtype_for(model);
  const int64_t params = parameter_count(model);
  uint64_t smallest = unplanned_bytes(model, targets, format);
  for (const ProfileTarget& t : targets) {
    uint64_t best = UINT64_MAX;
    for (const QuantFormat& f : candidate_formats(requested, t.cols, format, output)) {
      best = std::min(best, f.bytes(t.rows, t.cols, scales));
    }
    smallest += best;
  }
  uint64_t budget = resolve_budget_bytes(options.request.budget, params);
  if (budget < smallest) {
    const bool embedding_fixed = format == ExportFormat::kMlx &&
                                 !options.profiling.include_embedding &&
                                 !model.config.tied_embeddings;
    fail("budget {} ({} bytes) cannot be met: the smallest achievable size is {} bytes ({:.3f} "
         "bits per weight) with the candidate formats{}",
         options.request.budget, budget, smallest, 8.0 * smallest / std::max<int64_t>(params, 1),
         embedding_fixed ? "; --include-embedding also quantizes the token embedding" : "");
  }
}

void write_output(const LoadedModel& loaded, const Plan& plan,
                  const std::map<std::string, std::vector<float>>& importance,
                  const QuantizeOptions& options) {
  if (plan.export_format == ExportFormat::kGguf) {
    GgufVocab vocab = find_gguf_vocab(loaded.model, options.tokenizer);
    GgufExportOptions export_options;
    export_options.importance = &importance;
    export_options.name = fs::path(options.model).filename().string();
    GgufExportSummary summary =
        export_gguf(loaded.model, &plan, GgmlType::F16, &vocab, options.output, export_options);
    std::printf("wrote %s: %lld tensors, %llu bytes of tensor data, %llu bytes in all\n",
                options.output.c_str(), static_cast<long long>(summary.tensor_count),
                static_cast<unsigned long long>(summary.tensor_bytes),
                static_cast<unsigned long long>(summary.file_bytes));
    return;
  }
  MlxExportOptions export_options;
  export_options.importance = &importance;
  export_options.tokenizer = options.tokenizer;
  MlxExportSummary summary = export_mlx(loaded.model, plan, options.output, export_options);
  std::printf("wrote %s: %lld quantized and %lld unquantized modules, model.safetensors %llu bytes\n",
              options.output.c_str(), static_cast<long long>(summary.quantized_modules),
              static_cast<long long>(summary.float_modules),
              static_cast<unsigned long long>(summary.file_bytes));
}

void run_quantize(QuantizeOptions& options) {
  if (options.plan.empty() == options.profiling.calib.empty() && options.profile.empty()) {
    fail("give either --plan PLAN.json, or --calib FILE with --budget (one-command form), or "
         "--profile PROFILE.json with --budget");
  }
  // The output and OUT.profile.json go beside each other: create their
  // folder (as in -o out/model) before the long profile, not after it.
  const fs::path parent = fs::path(options.output).parent_path();
  std::error_code error;
  if (!parent.empty() && !fs::create_directories(parent, error) && error) {
    fail("cannot create the output folder '{}': {}", parent.string(), error.message());
  }
  LoadedModel loaded = load_model_and_tokenizer(options.model, options.tokenizer);
  ProfileDocument profile;
  bool have_profile = false;
  Plan plan;
  if (!options.plan.empty()) {
    plan = read_plan(options.plan);
    if (!options.profile.empty()) {
      profile = read_profile(options.profile);
      have_profile = true;
    }
  } else {
    if (options.request.budget.empty()) fail("--budget is required unless --plan is given");
    if (!options.profile.empty()) {
      profile = read_profile(options.profile);
    } else {
      check_budget_reachable(loaded.model, options);
      profile = run_profile_command(loaded, options.model, options.profiling);
      fs::path profile_path = fs::path(options.output).string() + ".profile.json";
      profile.info.source_path = fs::absolute(profile_path).string();
      write_profile(profile_path, profile);
      std::printf("wrote %s (plan other budgets from it with optiq plan)\n", profile_path.c_str());
    }
    have_profile = true;
    plan = make_plan(profile, options.request);
    print_plan(plan);
  }
  if (!options.profiling.format.empty() &&
      export_format_of(options.profiling) != plan.export_format) {
    fail("--format {} was given, but the plan is for {} (its profile was made with --format {})",
         options.profiling.format, export_format_name(plan.export_format),
         export_format_name(plan.export_format));
  }
  const std::string hash = model_hash(loaded.model);
  if (hash != plan.model_hash) {
    fail("the plan was made for model '{}' (hash {}), but '{}' has hash {}", plan.model_path,
         plan.model_hash, options.model, hash);
  }
  std::map<std::string, std::vector<float>> importance =
      have_profile ? profile.result.importance : plan_importance(plan);

  write_output(loaded, plan, importance, options);
  if (options.report.text.empty()) return;
  Model exported = load_model(options.output);
  print_report(loaded, {{"optiq plan", plan, &exported}}, have_profile ? &profile : nullptr,
               options.report);
}

}  // namespace

void register_quantize(CLI::App& app) {
  auto options = std::make_shared<QuantizeOptions>();
  CLI::App* command = app.add_subcommand(
      "quantize", "Write a mixed-precision MLX model folder or GGUF file from a plan, or "
                  "profile, plan and write in one command");
  command->add_option("model", options->model, "Model folder or llama2.c checkpoint")->required();
  command->add_option("--tokenizer", options->tokenizer,
                      "Tokenizer file (default: the one in the model folder)");
  command->add_option("-o,--output", options->output, "Output folder (MLX) or .gguf file (GGUF); replaced if it exists")->required();
  command->add_option("--plan", options->plan, "Plan written by optiq plan");
  command->add_option("--profile", options->profile,
                      "Profile written by optiq profile (skips profiling; enables the uniform rows "
                      "of the report)");
  command->add_option("--budget", options->request.budget,
                      "Size limit: bits per weight (4bpw), bytes (3.2GB), reduction (40%) or, for "
                      "GGUF, a llama.cpp recipe's size (Q4_K_M)");
  command->add_option("--metric", options->request.metric, "Damage to minimise: kl or mse (the profile measures both)");
  command->add_option("--keep", options->request.keep, "NAME_REGEX=FORMAT (repeatable)");
  add_profile_options(command, options->profiling, /*calib_required=*/false,
                      /*with_metric=*/false);
  add_report_options(command, options->report, /*text_required=*/false);
  command->callback([options] { run_quantize(*options); });
}

}  // namespace optiq::cli
