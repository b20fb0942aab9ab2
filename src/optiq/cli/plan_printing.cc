#include "optiq/cli/plan_printing.h"

#include <fmt/format.h>

#include <cstdio>
#include <map>

namespace optiq::cli {
namespace {

// "model.layers.12.mlp.up_proj" -> "layer 12"; others -> the module name.
std::string group_of(const std::string& module) {
  const std::string prefix = "model.layers.";
  if (module.rfind(prefix, 0) != 0) return module;
  size_t end = module.find('.', prefix.size());
  return "layer " + module.substr(prefix.size(), end - prefix.size());
}

}  // namespace

void print_plan(const Plan& plan) {
  std::printf("%-40s %-14s %-8s %12s %12s\n", "tensor", "shape", "format", "bytes",
              plan.metric == "mse" ? "rel. MSE" : "KL");
  struct LayerTotals {
    uint64_t bytes = 0;
    int64_t params = 0;
    double damage = 0;
  };
  std::map<std::string, LayerTotals> layers;
  std::vector<std::string> order;
  for (const PlanEntry& e : plan.entries) {
    std::printf("%-40s %-14s %-8s %12llu %12.4e%s\n", e.target.module.c_str(),
                fmt::format("[{}, {}]", e.target.rows, e.target.cols).c_str(),
                e.format.name().c_str(), static_cast<unsigned long long>(e.bytes), e.damage,
                e.kept ? "  (kept)" : "");
    if (!e.note.empty()) std::printf("    note: %s\n", e.note.c_str());
    std::string group = group_of(e.target.module);
    if (!layers.count(group)) order.push_back(group);
    LayerTotals& totals = layers[group];
    totals.bytes += e.bytes;
    totals.params += e.target.rows * e.target.cols;
    totals.damage += e.damage;
  }
  std::printf("\n%-16s %12s %8s %12s\n", "layer", "bytes", "bpw", "damage");
  for (const std::string& group : order) {
    const LayerTotals& t = layers[group];
    std::printf("%-16s %12llu %8.3f %12.4e\n", group.c_str(), static_cast<unsigned long long>(t.bytes),
                8.0 * t.bytes / std::max<int64_t>(t.params, 1), t.damage);
  }
  std::printf("\nbudget           %s = %llu bytes\n", plan.budget_text.c_str(),
              static_cast<unsigned long long>(plan.budget_bytes));
  std::printf("total size       %llu bytes (%.3f bits per weight; %llu in unplanned tensors)\n",
              static_cast<unsigned long long>(plan.total_bytes), plan.bits_per_weight,
              static_cast<unsigned long long>(plan.fixed_bytes));
  std::printf("predicted damage %.6e (%s, summed over tensors)\n", plan.predicted_damage,
              plan.metric.c_str());
  std::printf("lower bound      %.6e (gap %.3e, %s, %llu nodes, %.1f ms)\n", plan.lower_bound,
              plan.gap, plan.proven_optimal ? "proven optimal" : "NOT proven optimal",
              static_cast<unsigned long long>(plan.nodes), plan.solve_seconds * 1e3);
}

}  // namespace optiq::cli
