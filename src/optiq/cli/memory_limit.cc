#include "optiq/cli/memory_limit.h"

#include <fmt/format.h>

#include <cstdio>

#include "optiq/core/error.h"
#include "optiq/plan/budget.h"

namespace optiq::cli {
namespace {

// "1.25 GB", "12.3 MB" or "512 kB" (powers of 1000).
std::string human_bytes(uint64_t bytes) {
  if (bytes >= 1000000000) return fmt::format("{:.2f} GB", bytes / 1e9);
  if (bytes >= 1000000) return fmt::format("{:.1f} MB", bytes / 1e6);
  return fmt::format("{:.0f} kB", bytes / 1e3);
}

}  // namespace

void add_memory_option(CLI::App* command, std::string& limit) {
  command->add_option("--max-memory", limit,
                      "Memory for activations and buffers beyond the mapped model, e.g. 12GB or "
                      "8GiB (default: 75% of physical memory); profiling caches fewer sequences "
                      "at a time to stay within it");
}

uint64_t memory_limit_bytes(const std::string& text) {
  if (text.empty()) return physical_memory_bytes() / 4 * 3;
  BudgetSpec spec;
  try {
    spec = parse_budget(text);
  } catch (const Error&) {
    spec.kind = BudgetKind::kBitsPerWeight;  // reported below
  }
  if (spec.kind != BudgetKind::kBytes) {
    fail("invalid --max-memory '{}': expected a size such as 12GB, 8GiB or 500MB", text);
  }
  return resolve_budget_bytes(spec, 0);
}

void print_memory_estimate(const MemoryEstimate& estimate, uint64_t limit_bytes) {
  std::string line = fmt::format("  memory         {} ({} cached states, {} buffers)",
                                 human_bytes(estimate.total()), human_bytes(estimate.cached_states),
                                 human_bytes(estimate.working));
  if (limit_bytes > 0) line += fmt::format(" of {} allowed", human_bytes(limit_bytes));
  std::fprintf(stderr, "%s\n  mapped weights %s (file-backed, paged in as needed)\n", line.c_str(),
               human_bytes(estimate.mapped_weights).c_str());
}

void check_memory(const MemoryEstimate& estimate, uint64_t limit_bytes,
                  const std::string& operation) {
  if (limit_bytes == 0 || estimate.total() <= limit_bytes) return;
  fail("{} needs {} of buffers beyond the mapped model, above the memory limit of {}; raise "
       "--max-memory or lower --ctx",
       operation, human_bytes(estimate.total()), human_bytes(limit_bytes));
}

}  // namespace optiq::cli
