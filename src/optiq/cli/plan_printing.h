// Human-readable tables of a plan, on stdout.
#pragma once

#include "optiq/plan/planner.h"

namespace optiq::cli {

// Per-tensor table (name, shape, format, bytes, damage), a per-layer summary
// and the totals with the solver's bound and gap.
void print_plan(const Plan& plan);

}  // namespace optiq::cli
