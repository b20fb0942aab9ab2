#include "optiq/plan/budget.h"

#include <array>
#include <limits>

#include "optiq/core/error.h"

namespace optiq {
namespace {

constexpr const char* kAcceptedForms =
    "expected bits per weight (4.5bpw), a size with unit B, kB or KB, MB, GB, "
    "TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), or a "
    "reduction from 16-bit weights in percent (40%)";

// These limits keep the mantissa below 10^18 and every product in
// resolve_budget_bytes below 2^128.
constexpr int kMaxDigits = 18;
constexpr int kMaxDecimals = 9;

struct Unit {
  std::string_view name;
  BudgetKind kind;
  uint64_t bytes;
};

constexpr std::array<Unit, 12> kUnits = {{
    {"bpw", BudgetKind::kBitsPerWeight, 0},
    {"%", BudgetKind::kReductionPercent, 0},
    {"B", BudgetKind::kBytes, 1},
    {"kB", BudgetKind::kBytes, 1'000},
    {"KB", BudgetKind::kBytes, 1'000},
    {"MB", BudgetKind::kBytes, 1'000'000},
    {"GB", BudgetKind::kBytes, 1'000'000'000},
    {"TB", BudgetKind::kBytes, 1'000'000'000'000},
    {"KiB", BudgetKind::kBytes, uint64_t{1} << 10},
    {"MiB", BudgetKind::kBytes, uint64_t{1} << 20},
    {"GiB", BudgetKind::kBytes, uint64_t{1} << 30},
    {"TiB", BudgetKind::kBytes, uint64_t{1} << 40},
}};

using u128 = unsigned __int128;

u128 power_of_ten(int exponent) {
  u128 value = 1;
  for (int i = 0; i < exponent; ++i) value *= 10;
  return value;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

[[noreturn]] void fail_budget(std::string_view text, std::string_view reason) {
  fail("invalid budget '{}': {}; {}", text, reason, kAcceptedForms);
}

}  // namespace

double BudgetSpec::value() const {
  return static_cast<double>(mantissa) /
         static_cast<double>(power_of_ten(decimals));
}

BudgetSpec parse_budget(std::string_view text) {
  const std::string_view body = trim(text);
  BudgetSpec spec;
  size_t pos = 0;
  int digits = 0;
  bool seen_point = false;
  for (; pos < body.size(); ++pos) {
    const char c = body[pos];
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    ++digits;
    if (digits > kMaxDigits) fail_budget(text, "too many digits");
    spec.mantissa = spec.mantissa * 10 + static_cast<uint64_t>(c - '0');
    if (seen_point) ++spec.decimals;
  }
  if (digits == 0) fail_budget(text, "missing number");
  if (spec.decimals > kMaxDecimals) {
    fail_budget(text, "too many digits after the decimal point");
  }
  spec.number = std::string(body.substr(0, pos));
  const std::string_view unit = trim(body.substr(pos));
  if (unit.empty()) fail_budget(text, "missing unit");

  const Unit* match = nullptr;
  for (const Unit& candidate : kUnits) {
    if (candidate.name == unit) match = &candidate;
  }
  if (match == nullptr) fail_budget(text, "unknown unit");
  spec.kind = match->kind;
  spec.unit = std::string(unit);
  spec.unit_bytes = match->bytes;

  if (spec.mantissa == 0 && spec.kind != BudgetKind::kReductionPercent) {
    fail_budget(text, "budget must be greater than 0");
  }
  if (spec.kind == BudgetKind::kReductionPercent &&
      spec.mantissa >= 100 * power_of_ten(spec.decimals)) {
    fail_budget(text, "a reduction must be below 100%");
  }
  return spec;
}

uint64_t resolve_budget_bytes(const BudgetSpec& spec, int64_t total_params) {
  const std::string written = spec.number + spec.unit;
  if (spec.kind != BudgetKind::kBytes && total_params <= 0) {
    fail("budget '{}' needs the model's parameter count, but it is {}", written,
         total_params);
  }
  const u128 scale = power_of_ten(spec.decimals);
  const auto params = static_cast<u128>(total_params);
  u128 bytes = 0;
  switch (spec.kind) {
    case BudgetKind::kBitsPerWeight:
      bytes = spec.mantissa * params / (8 * scale);
      break;
    case BudgetKind::kReductionPercent:
      // (1 - p / 100) * params * 2 bytes, with p = mantissa / scale.
      bytes = (100 * scale - spec.mantissa) * params * 2 / (100 * scale);
      break;
    case BudgetKind::kBytes: {
      const u128 scaled = spec.mantissa * static_cast<u128>(spec.unit_bytes);
      if (spec.unit_bytes == 1 && scaled % scale != 0) {
        fail("invalid budget '{}': a byte count must be a whole number",
             written);
      }
      bytes = scaled / scale;
      break;
    }
  }
  if (bytes == 0 && spec.kind == BudgetKind::kBytes) {
    fail("budget '{}' is below 1 byte", written);
  }
  if (bytes == 0) {
    fail("budget '{}' resolves to 0 bytes for {} parameters", written,
         total_params);
  }
  if (bytes > std::numeric_limits<uint64_t>::max()) {
    fail("budget '{}' exceeds 2^64 - 1 bytes", written);
  }
  return static_cast<uint64_t>(bytes);
}

uint64_t resolve_budget_bytes(std::string_view text, int64_t total_params) {
  return resolve_budget_bytes(parse_budget(text), total_params);
}

std::string describe_budget(const BudgetSpec& spec) {
  switch (spec.kind) {
    case BudgetKind::kBitsPerWeight:
      return spec.number + " bits per weight";
    case BudgetKind::kReductionPercent:
      return spec.number + "% smaller than 16-bit weights";
    case BudgetKind::kBytes:
      break;
  }
  return spec.number + " " + spec.unit;
}

}  // namespace optiq
