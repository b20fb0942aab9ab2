// The comparison table quantization papers print: full precision, uniform
// baselines (for GGUF also llama.cpp's recipes) and the mixed plan, each with size,
// bits per weight, perplexity, KL divergence and top-1 agreement against full
// precision, and the plan's predicted damage next to the measured one.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "optiq/cli/model_loading.h"
#include "optiq/eval/chunks.h"
#include "optiq/plan/planner.h"

namespace optiq::cli {

struct ReportOptions {
  std::string text;       // evaluation text
  EvalOptions eval;       // protocol, ctx, chunk limit
  std::string protocol = "llama.cpp";  // --eval-protocol, parsed into eval
  // MLX uniform rows at the plan's group size; empty: one row for every
  // affine format the profile measured.
  std::vector<int> uniform_bits;
  bool json = false;
};

// A mixed plan's row: its label, the plan and the quantized model (the
// exported file loaded back, or the plan applied in memory).
struct PlanRow {
  std::string name;
  Plan plan;
  const Model* model = nullptr;
};

// Adds --eval-text (required when text_required), --eval-ctx,
// --eval-chunks, --eval-protocol and --json to `command`.
void add_report_options(CLI::App* command, ReportOptions& options, bool text_required);

// Prints the table for one or more plans of the same profile. The profile
// is needed for the baseline rows and their predicted damage; without it
// only full precision and the plans are shown.
void print_report(const LoadedModel& full_precision, const std::vector<PlanRow>& plans,
                  const ProfileDocument* profile, const ReportOptions& report_options);

}  // namespace optiq::cli
