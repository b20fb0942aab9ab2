#include "optiq/cli/report.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <set>
#include <list>
#include <map>
#include <nlohmann/json.hpp>

#include "optiq/core/error.h"
#include "optiq/eval/compare.h"
#include "optiq/export/apply_plan.h"
#include "optiq/model/forward.h"

namespace optiq::cli {
namespace {

struct Row {
  std::string name;
  uint64_t bytes = 0;
  double bpw = 0;
  double predicted = -1;  // < 0: none
  const Model* model = nullptr;
  KldResult result;
};

// The group size most of the plan's affine tensors use (64 when none).
int plan_group_size(const Plan& plan) {
  std::map<int, int64_t> weight;
  for (const PlanEntry& e : plan.entries) {
    if (e.format.kind == QuantFormat::Kind::kAffine) {
      weight[e.format.affine.group_size] += e.target.rows * e.target.cols;
    }
  }
  int best = 64;
  int64_t best_weight = -1;
  for (const auto& [group, w] : weight) {
    if (w > best_weight) {
      best = group;
      best_weight = w;
    }
  }
  return best;
}

using PlanMaker = std::function<Plan()>;

// The baselines of the table. MLX: uniform affine at the plan's group size
// for each of options.uniform_bits, or by default every affine format the
// profile measured. GGUF: every ggml type the profile
// measured, uniformly, then llama.cpp's recipes.
std::vector<std::pair<std::string, PlanMaker>> baseline_plans(const ProfileDocument& profile,
                                                              const Plan& plan,
                                                              const ReportOptions& options) {
  std::vector<std::pair<std::string, PlanMaker>> baselines;
  const std::string metric = plan.metric;
  if (profile.result.export_format == ExportFormat::kMlx) {
    std::vector<QuantFormat> formats;
    if (!options.uniform_bits.empty()) {
      const int group = plan_group_size(plan);
      for (int bits : options.uniform_bits) formats.push_back(QuantFormat::affine_format(bits, group));
    } else {
      std::set<std::pair<int, int>> measured;  // (bits, group size)
      for (const TensorProfile& t : profile.result.tensors) {
        for (const Measurement& m : t.candidates) {
          if (m.format.kind == QuantFormat::Kind::kAffine) {
            measured.insert({m.format.affine.bits, m.format.affine.group_size});
          }
        }
      }
      for (const auto& [bits, group] : measured) {
        formats.push_back(QuantFormat::affine_format(bits, group));
      }
    }
    for (const QuantFormat& format : formats) {
      baselines.emplace_back("uniform " + format.name(), [&profile, format, metric] {
        return make_uniform_plan(profile, format, metric);
      });
    }
    return baselines;
  }
  std::set<GgmlType> types;
  for (const TensorProfile& t : profile.result.tensors) {
    for (const Measurement& m : t.candidates) {
      if (m.format.kind == QuantFormat::Kind::kGgml) types.insert(m.format.ggml);
    }
  }
  std::vector<QuantFormat> formats;
  for (GgmlType type : types) formats.push_back(QuantFormat::ggml_format(type));
  std::sort(formats.begin(), formats.end(), [](const QuantFormat& a, const QuantFormat& b) {
    return a.bytes(1, 256, DType::F16) < b.bytes(1, 256, DType::F16);
  });
  for (const QuantFormat& format : formats) {
    baselines.emplace_back("uniform " + format.name(), [&profile, format, metric] {
      return make_uniform_plan(profile, format, metric);
    });
  }
  for (LlamaCppRecipe recipe : llama_cpp_recipes()) {
    baselines.emplace_back(fmt::format("llama.cpp {}", recipe_name(recipe)),
                           [&profile, recipe, metric] {
                             return make_recipe_plan(profile, recipe, metric);
                           });
  }
  return baselines;
}

}  // namespace

void add_report_options(CLI::App* command, ReportOptions& options, bool text_required) {
  auto* text = command->add_option(
      "--eval-text", options.text,
      "Evaluate full precision, the baselines and the plans on this text and print the table");
  if (text_required) text->required();
  command->add_option("--eval-ctx", options.eval.ctx, "Context for the evaluation")
      ->check(CLI::Range(4, 1 << 20));
  command->add_option("--eval-chunks", options.eval.max_chunks,
                      "Evaluate at most this many chunks (0: all)");
  command->add_option("--eval-protocol", options.protocol, "llama.cpp or documents");
  command->add_flag("--json", options.json, "Print the table as JSON");
}

void print_report(const LoadedModel& full_precision, const std::vector<PlanRow>& plans,
                  const ProfileDocument* profile, const ReportOptions& report_options) {
  OPTIQ_ASSERT(!plans.empty());
  ReportOptions options = report_options;
  options.eval.protocol = parse_protocol(options.protocol);
  const Plan& plan = plans.front().plan;
  const Model& base = full_precision.model;
  std::vector<Row> rows;
  std::list<Model> uniform_models;
  const int64_t params = plan.total_params;
  if (profile != nullptr) {
    for (const auto& [label, make] : baseline_plans(*profile, plan, options)) {
      Plan baseline;
      try {
        baseline = make();
      } catch (const Error& e) {
        spdlog::warn("no {} row: {}", label, e.what());
        continue;
      }
      uniform_models.push_back(apply_plan(base, baseline, &profile->result.importance));
      Row row;
      row.name = label;
      row.bytes = baseline.total_bytes;
      row.bpw = baseline.bits_per_weight;
      row.predicted = baseline.predicted_damage;
      row.model = &uniform_models.back();
      rows.push_back(row);
    }
  }
  for (const PlanRow& mixed : plans) {
    Row row;
    row.name = mixed.name;
    row.bytes = mixed.plan.total_bytes;
    row.bpw = mixed.plan.bits_per_weight;
    row.predicted = mixed.plan.predicted_damage;
    row.model = mixed.model;
    rows.push_back(row);
  }
  // Smallest first, so each plan sits among the baselines of its size.
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.bytes < b.bytes; });

  std::string text = read_text_file(options.text);
  std::vector<EvalSequence> sequences = make_eval_sequences(*full_precision.tokenizer, text, options.eval);
  Transformer base_transformer(base);
  std::list<Transformer> transformers;
  std::vector<Transformer*> candidates;
  for (const Row& row : rows) {
    transformers.emplace_back(*row.model);
    candidates.push_back(&transformers.back());
  }
  std::vector<KldResult> results = compare_models(base_transformer, candidates, *full_precision.tokenizer, sequences);
  for (size_t i = 0; i < rows.size(); ++i) rows[i].result = results[i];
  const PerplexityResult& base_ppl = results.front().base;
  const uint64_t base_bytes = static_cast<uint64_t>(params) * 2;

  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    out.push_back({{"model", "full precision (16-bit)"}, {"bytes", base_bytes}, {"bits_per_weight", 16.0},
                   {"perplexity", base_ppl.perplexity}, {"mean_kld", 0.0}, {"top1_agreement", 1.0}});
    for (const Row& row : rows) {
      out.push_back({{"model", row.name}, {"bytes", row.bytes}, {"bits_per_weight", row.bpw},
                     {"perplexity", row.result.candidate.perplexity}, {"mean_kld", row.result.mean_kld},
                     {"kld_p99", row.result.kld_p99}, {"top1_agreement", row.result.top1_agreement},
                     {"predicted_damage", row.predicted}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("\nquality on %s (%s protocol, ctx %lld, %lld tokens scored)\n", options.text.c_str(),
              std::string(protocol_name(options.eval.protocol)).c_str(),
              static_cast<long long>(options.eval.ctx), static_cast<long long>(base_ppl.tokens_scored));
  std::printf("%-18s %12s %7s %11s %10s %9s %7s %12s\n", "model", "bytes", "bpw", "perplexity",
              "mean KLD", "KLD p99", "top-1", "predicted");
  std::printf("%-18s %12llu %7.3f %11.4f %10s %9s %7s %12s\n", "16-bit",
              static_cast<unsigned long long>(base_bytes), 16.0, base_ppl.perplexity, "0", "0",
              "100%", "-");
  for (const Row& row : rows) {
    std::string predicted = row.predicted >= 0 ? fmt::format("{:.4e}", row.predicted) : "-";
    std::printf("%-18s %12llu %7.3f %11.4f %10.5f %9.4f %6.2f%% %12s\n", row.name.c_str(),
                static_cast<unsigned long long>(row.bytes), row.bpw, row.result.candidate.perplexity,
                row.result.mean_kld, row.result.kld_p99, 100.0 * row.result.top1_agreement,
                predicted.c_str());
  }
  std::printf("predicted: the plan's summed per-tensor %s on the calibration text\n", plan.metric.c_str());
}

}  // namespace optiq::cli
