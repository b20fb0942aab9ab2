// --max-memory: the limit on memory beyond the mapped model file, for the
// commands that size their buffers before running (profile, quantize,
// eval).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "optiq/profile/memory.h"

namespace optiq::cli {

// Adds --max-memory SIZE to `command`, stored as text in `limit`.
void add_memory_option(CLI::App* command, std::string& limit);

// The limit in bytes: a byte size such as "12GB" or "8GiB", or, when
// `text` is empty, 75% of this machine's physical memory (0: no limit when
// that is unknown). Throws optiq::Error for any other form.
uint64_t memory_limit_bytes(const std::string& text);

// Prints the estimate's lines ("  memory ...") to stderr.
void print_memory_estimate(const MemoryEstimate& estimate, uint64_t limit_bytes);

// Throws optiq::Error when `estimate` exceeds the limit (used where the
// batch cannot shrink, as in evaluation).
void check_memory(const MemoryEstimate& estimate, uint64_t limit_bytes,
                  const std::string& operation);

}  // namespace optiq::cli
