// Memory budgets as written by users, and their size in bytes.
//
// Accepted forms (a decimal number without sign or exponent, an optional
// space, then a case-sensitive unit):
//   4.5bpw            average bits per weight: total bits / parameter count
//   304096B           bytes
//   500kB, 500KB, 12MB, 3.2GB, 1TB      powers of 1000
//   64KiB, 700MiB, 1.5GiB, 1TiB         powers of 1024
//   40%               reduction from the model stored at 16 bits per weight:
//                     budget = (1 - 0.40) * parameter count * 2 bytes
// Byte counts are rounded down, so the budget never exceeds what was
// written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace optiq {

enum class BudgetKind { kBitsPerWeight, kBytes, kReductionPercent };

// A parsed budget. The number is mantissa / 10^decimals exactly.
struct BudgetSpec {
  BudgetKind kind = BudgetKind::kBytes;
  std::string number;       // the number as written, e.g. "3.2"
  std::string unit;         // the unit as written, e.g. "GiB", "bpw", "%"
  uint64_t unit_bytes = 0;  // bytes per unit for kBytes; 0 otherwise
  uint64_t mantissa = 0;
  int decimals = 0;

  double value() const;
};

// Parses a budget. Throws optiq::Error naming the text and the accepted
// forms when the text is invalid, zero (except 0%), or a reduction of 100%
// or more. At most 18 digits are accepted, 9 of them after the point.
BudgetSpec parse_budget(std::string_view text);

// Returns the budget in bytes. total_params is the model's parameter count,
// needed (and required > 0) for bits per weight and percentages. Throws
// optiq::Error for a fractional byte count with unit B, a parameter count
// <= 0 where one is needed, or a result of zero or above 2^64 - 1 bytes.
uint64_t resolve_budget_bytes(const BudgetSpec& spec, int64_t total_params);
uint64_t resolve_budget_bytes(std::string_view text, int64_t total_params);

// Human-readable form, e.g. "4.5 bits per weight", "3.2 GB" or
// "40% smaller than 16-bit weights".
std::string describe_budget(const BudgetSpec& spec);

}  // namespace optiq
