#include "optiq/plan/planner.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "optiq/core/error.h"
#include "optiq/io/atomic_output.h"
#include "optiq/plan/budget.h"

using nlohmann::json;

namespace optiq {
namespace {

double damage_of(const Measurement& m, const std::string& metric) {
  return metric == "mse" ? m.mse : m.kl;
}

void check_metric(const ProfileDocument& profile, const std::string& metric) {
  if (metric != "kl" && metric != "mse")
    fail("invalid metric '{}': expected kl or mse", metric);
  const auto& metrics = profile.info.metrics;
  if (std::find(metrics.begin(), metrics.end(), metric) == metrics.end()) {
    fail(
        "the profile has no '{}' measurements (it measured: {}); profile again "
        "with --metric {}",
        metric, fmt::join(metrics, ", "), metric);
  }
}

struct KeepRule {
  std::string text;
  std::regex pattern;
  QuantFormat format;
};

std::vector<KeepRule> parse_keep_rules(const std::vector<std::string>& rules) {
  std::vector<KeepRule> parsed;
  for (const std::string& rule : rules) {
    size_t equals = rule.rfind('=');
    if (equals == std::string::npos || equals == 0 ||
        equals + 1 == rule.size()) {
      fail(
          "invalid --keep '{}': expected NAME_REGEX=FORMAT, e.g. "
          "'lm_head=a8g64'",
          rule);
    }
    KeepRule keep;
    keep.text = rule;
    try {
      keep.pattern = std::regex(rule.substr(0, equals));
    } catch (const std::regex_error& e) {
      fail("invalid --keep '{}': bad regular expression: {}", rule, e.what());
    }
    keep.format = QuantFormat::parse(rule.substr(equals + 1));
    parsed.push_back(std::move(keep));
  }
  return parsed;
}

PlanEntry entry_for(const TensorProfile& tensor, size_t choice,
                    const std::string& metric) {
  const Measurement& m = tensor.candidates[choice];
  PlanEntry entry;
  entry.target = tensor.target;
  entry.format = m.format;
  entry.bytes = m.bytes;
  entry.damage = damage_of(m, metric);
  entry.kl = m.kl;
  entry.mse = m.mse;
  if (tensor.candidates.size() == 1 && !tensor.skipped.empty()) {
    entry.note =
        fmt::format("no candidate format divides its {} inputs; stays {}",
                    tensor.target.cols, m.format.name());
  }
  return entry;
}

void finish(Plan& plan, const ProfileDocument& profile) {
  plan.export_format = profile.result.export_format;
  plan.fixed_bytes = profile.result.fixed_bytes;
  plan.total_params = profile.result.total_params;
  plan.output_dtype = profile.result.output_dtype;
  plan.scale_dtype = profile.result.scale_dtype;
  plan.model_hash = profile.info.model_hash;
  plan.model_path = profile.info.model_path;
  plan.profile_path = profile.info.source_path;
  plan.total_bytes = plan.fixed_bytes;
  plan.predicted_damage = 0;
  for (const PlanEntry& e : plan.entries) {
    plan.total_bytes += e.bytes;
    plan.predicted_damage += e.damage;
  }
  plan.bits_per_weight =
      8.0 * static_cast<double>(plan.total_bytes) /
      static_cast<double>(std::max<int64_t>(plan.total_params, 1));
}

// Gives each tensor the format `assign` returns for it, resolved as the
// profile resolved it: a ggml type that does not apply becomes its fallback
// for GGUF, any other format that does not apply leaves the tensor
// unquantized.
template <typename Assign>
Plan make_assigned_plan(const ProfileDocument& profile, const std::string& label,
                        const std::string& metric, Assign assign) {
  check_metric(profile, metric);
  const bool gguf = profile.result.export_format == ExportFormat::kGguf;
  Plan plan;
  plan.metric = metric;
  plan.budget_text = label;
  plan.proven_optimal = false;
  for (const TensorProfile& tensor : profile.result.tensors) {
    QuantFormat requested = assign(tensor.target);
    const int64_t cols = tensor.target.cols;
    if (!requested.applies_to(cols)) {
      const bool falls_back = gguf && requested.kind == QuantFormat::Kind::kGgml &&
                              ggml_fallback_type(requested.ggml, cols) != GgmlType::F16;
      requested = falls_back ? QuantFormat::ggml_format(ggml_fallback_type(requested.ggml, cols))
                          : tensor.candidates.front().format;  // unquantized
    }
    std::optional<size_t> choice;
    for (size_t j = 0; j < tensor.candidates.size(); ++j) {
      if (tensor.candidates[j].format == requested) choice = j;
    }
    if (!choice) {
      fail("{}: the profile has no measurement of {} for '{}'; profile with that format "
           "among the candidates",
           label, requested.name(), tensor.target.module);
    }
    plan.entries.push_back(entry_for(tensor, *choice, metric));
  }
  finish(plan, profile);
  plan.budget_bytes = plan.total_bytes;
  return plan;
}

// The budget in bytes; a recipe name stands for that recipe's size.
uint64_t budget_bytes(const ProfileDocument& profile, const PlanRequest& request);

}  // namespace

Plan make_plan(const ProfileDocument& profile, const PlanRequest& request) {
  check_metric(profile, request.metric);
  std::vector<KeepRule> keep = parse_keep_rules(request.keep);
  const ProfileResult& r = profile.result;

  KnapsackProblem problem;
  problem.fixed_bytes = r.fixed_bytes;
  problem.budget_bytes = budget_bytes(profile, request);
  std::vector<bool> kept(r.tensors.size(), false);
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    const TensorProfile& tensor = r.tensors[i];
    KnapsackItem item;
    item.name = tensor.target.module;
    for (const Measurement& m : tensor.candidates) {
      item.choices.push_back({m.bytes, damage_of(m, request.metric)});
    }
    for (const KeepRule& rule : keep) {
      if (!std::regex_match(tensor.target.module, rule.pattern)) continue;
      item.allowed.assign(tensor.candidates.size(), false);
      bool found = false;
      for (size_t j = 0; j < tensor.candidates.size(); ++j) {
        if (tensor.candidates[j].format == rule.format)
          item.allowed[j] = found = true;
      }
      if (!found) {
        fail(
            "--keep '{}': tensor '{}' has no profiled format {} (profiled: {})",
            rule.text, tensor.target.module, rule.format.name(), [&] {
              std::string names;
              for (const Measurement& m : tensor.candidates)
                names += (names.empty() ? "" : ", ") + m.format.name();
              return names;
            }());
      }
      kept[i] = true;
    }
    problem.items.push_back(std::move(item));
  }

  ByteRange range = achievable_byte_range(problem);
  if (problem.budget_bytes < range.min_bytes) {
    fail(
        "budget {} ({} bytes) cannot be met: the smallest achievable size is "
        "{} bytes ({:.3f} "
        "bits per weight) and the largest {} bytes",
        request.budget, problem.budget_bytes, range.min_bytes,
        8.0 * range.min_bytes / std::max<int64_t>(r.total_params, 1),
        range.max_bytes);
  }
  KnapsackSolution solution = solve_knapsack(problem);

  Plan plan;
  plan.metric = request.metric;
  plan.budget_text = request.budget;
  plan.budget_bytes = problem.budget_bytes;
  plan.lower_bound = solution.lower_bound;
  plan.gap = solution.gap;
  plan.proven_optimal = solution.proven_optimal;
  plan.nodes = solution.nodes;
  plan.solve_seconds = solution.seconds;
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    PlanEntry entry =
        entry_for(r.tensors[i], solution.choices[i], request.metric);
    entry.kept = kept[i];
    plan.entries.push_back(std::move(entry));
  }
  finish(plan, profile);
  return plan;
}

namespace {

uint64_t budget_bytes(const ProfileDocument& profile, const PlanRequest& request) {
  if (std::optional<LlamaCppRecipe> recipe = parse_llama_cpp_recipe(request.budget)) {
    return make_recipe_plan(profile, *recipe, request.metric).total_bytes;
  }
  return resolve_budget_bytes(request.budget, profile.result.total_params);
}

}  // namespace

Plan make_uniform_plan(const ProfileDocument& profile,
                       const QuantFormat& format, const std::string& metric) {
  return make_assigned_plan(profile, "uniform " + format.name(), metric,
                            [&](const ProfileTarget&) { return format; });
}

Plan make_recipe_plan(const ProfileDocument& profile, LlamaCppRecipe recipe,
                      const std::string& metric) {
  const std::string label = fmt::format("llama.cpp {}", recipe_name(recipe));
  if (profile.result.export_format != ExportFormat::kGguf) {
    fail("{} needs a GGUF profile (optiq profile --format gguf)", label);
  }
  const RecipeModelShape shape = recipe_shape(profile.result.tensors);
  return make_assigned_plan(profile, label, metric, [&](const ProfileTarget& target) {
    return QuantFormat::ggml_format(recipe_type(recipe, target, shape));
  });
}

void write_plan(const std::filesystem::path& path, const Plan& plan) {
  json root;
  root["export_format"] = std::string(export_format_name(plan.export_format));
  root["metric"] = plan.metric;
  root["budget"] = plan.budget_text;
  root["budget_bytes"] = plan.budget_bytes;
  root["total_bytes"] = plan.total_bytes;
  root["fixed_bytes"] = plan.fixed_bytes;
  root["parameters"] = plan.total_params;
  root["bits_per_weight"] = plan.bits_per_weight;
  root["predicted_damage"] = plan.predicted_damage;
  root["lower_bound"] = plan.lower_bound;
  root["gap"] = plan.gap;
  root["proven_optimal"] = plan.proven_optimal;
  root["output_dtype"] = std::string(dtype_name(plan.output_dtype));
  root["scale_dtype"] = std::string(dtype_name(plan.scale_dtype));
  root["model"] = {{"path", plan.model_path}, {"hash", plan.model_hash}};
  root["profile"] = plan.profile_path;
  json tensors = json::array();
  for (const PlanEntry& e : plan.entries) {
    json entry = {{"module", e.target.module},
                  {"shape", {e.target.rows, e.target.cols}},
                  {"format", e.format.name()},
                  {"bytes", e.bytes},
                  {"damage", e.damage},
                  {"kl", e.kl},
                  {"mse", e.mse}};
    if (e.kept) entry["kept"] = true;
    if (!e.note.empty()) entry["note"] = e.note;
    tensors.push_back(entry);
  }
  root["tensors"] = tensors;
  write_file_atomic(path, root.dump(1) + "\n");
}

Plan read_plan(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::ifstream stream(path);
  if (!stream) fail("cannot open plan '{}'", file);
  json root;
  try {
    root = json::parse(stream);
    Plan plan;
    if (root.contains("export_format")) {
      plan.export_format = parse_export_format(root["export_format"].get<std::string>());
    }
    plan.metric = root.at("metric").get<std::string>();
    plan.budget_text = root.at("budget").get<std::string>();
    plan.budget_bytes = root.at("budget_bytes").get<uint64_t>();
    plan.total_bytes = root.at("total_bytes").get<uint64_t>();
    plan.fixed_bytes = root.at("fixed_bytes").get<uint64_t>();
    plan.total_params = root.at("parameters").get<int64_t>();
    plan.bits_per_weight = root.at("bits_per_weight").get<double>();
    plan.predicted_damage = root.at("predicted_damage").get<double>();
    plan.lower_bound = root.at("lower_bound").get<double>();
    plan.gap = root.at("gap").get<double>();
    plan.proven_optimal = root.at("proven_optimal").get<bool>();
    auto dtype = [&](const char* key) {
      std::optional<DType> parsed =
          parse_dtype(root.at(key).get<std::string>());
      if (!parsed || !is_float_dtype(*parsed))
        fail("{}: invalid {}", file, key);
      return *parsed;
    };
    plan.output_dtype = dtype("output_dtype");
    plan.scale_dtype = dtype("scale_dtype");
    plan.model_path = root.at("model").at("path").get<std::string>();
    plan.model_hash = root.at("model").at("hash").get<std::string>();
    plan.profile_path = root.value("profile", "");
    for (const json& t : root.at("tensors")) {
      PlanEntry e;
      e.target.module = t.at("module").get<std::string>();
      auto shape = t.at("shape").get<std::vector<int64_t>>();
      if (shape.size() != 2)
        fail("{}: tensor '{}' has an invalid shape", file, e.target.module);
      e.target.rows = shape[0];
      e.target.cols = shape[1];
      e.format = QuantFormat::parse(t.at("format").get<std::string>());
      e.bytes = t.at("bytes").get<uint64_t>();
      e.damage = t.at("damage").get<double>();
      e.kl = t.at("kl").get<double>();
      e.mse = t.at("mse").get<double>();
      e.kept = t.value("kept", false);
      e.note = t.value("note", "");
      plan.entries.push_back(std::move(e));
    }
    return plan;
  } catch (const json::exception& e) {
    fail("{}: invalid plan: {}", file, e.what());
  }
}

}  // namespace optiq

namespace optiq {

std::map<std::string, std::vector<float>> plan_importance(const Plan& plan) {
  std::error_code ec;
  if (plan.profile_path.empty() ||
      !std::filesystem::exists(plan.profile_path, ec)) {
    spdlog::warn(
        "profile '{}' of the plan not found: quantizing without activation "
        "importance",
        plan.profile_path);
    return {};
  }
  return read_profile(plan.profile_path).result.importance;
}

}  // namespace optiq
