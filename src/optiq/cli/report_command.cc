// optiq report: the comparison table for plans at several budgets of one
// profile, with every baseline evaluated once. Plans are applied in memory
// exactly as quantize writes them, so nothing is written to disk.
#include <fmt/format.h>

#include <cstdio>
#include <list>

#include "optiq/cli/commands.h"
#include "optiq/cli/report.h"
#include "optiq/core/error.h"
#include "optiq/export/apply_plan.h"

namespace optiq::cli {
namespace {

struct ReportCommandOptions {
  std::string model;
  std::string tokenizer;
  std::string profile;
  std::vector<std::string> budgets;
  std::string metric = "kl";
  ReportOptions report;
};

void run_report(ReportCommandOptions& options) {
  LoadedModel loaded = load_model_and_tokenizer(options.model, options.tokenizer);
  ProfileDocument profile = read_profile(options.profile);
  const std::string hash = model_hash(loaded.model);
  if (hash != profile.info.model_hash) {
    fail("the profile '{}' was made for model '{}' (hash {}), but '{}' has hash {}",
         options.profile, profile.info.model_path, profile.info.model_hash, options.model, hash);
  }
  std::list<Model> models;
  std::vector<PlanRow> plans;
  for (const std::string& budget : options.budgets) {
    PlanRequest request;
    request.budget = budget;
    request.metric = options.metric;
    Plan plan = make_plan(profile, request);
    std::printf("plan %-10s %12llu bytes (%.3f bits per weight), predicted %s %.4e\n",
                budget.c_str(), static_cast<unsigned long long>(plan.total_bytes),
                plan.bits_per_weight, plan.metric.c_str(), plan.predicted_damage);
    models.push_back(apply_plan(loaded.model, plan, &profile.result.importance));
    plans.push_back({fmt::format("optiq {}", budget), plan, &models.back()});
  }
  print_report(loaded, plans, &profile, options.report);
}

}  // namespace

void register_report(CLI::App& app) {
  auto options = std::make_shared<ReportCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "report", "Compare mixed plans at several budgets with full precision and the baselines "
                "(uniform formats, llama.cpp's recipes for GGUF) on held-out text");
  command->add_option("model", options->model, "Model folder or llama2.c checkpoint")->required();
  command->add_option("--tokenizer", options->tokenizer,
                      "Tokenizer file (default: the one in the model folder)");
  command->add_option("--profile", options->profile, "Profile written by optiq profile")
      ->required();
  command->add_option("--budget", options->budgets,
                      "Budgets to plan, comma-separated (4bpw, 3.2GB, 40%, or Q4_K_M for GGUF)")
      ->delimiter(',')
      ->required();
  command->add_option("--metric", options->metric, "Damage to minimise: kl or mse");
  add_report_options(command, options->report, /*text_required=*/true);
  command->callback([options] { run_report(*options); });
}

}  // namespace optiq::cli
