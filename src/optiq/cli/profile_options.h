// Profiling options shared by `optiq profile` and the one-command
// `optiq quantize --calib`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "optiq/cli/memory_limit.h"
#include "optiq/cli/model_loading.h"
#include "optiq/profile/profile_io.h"

namespace optiq::cli {

struct ProfileCommandOptions {
  std::string calib;
  int64_t samples = 128;
  int64_t seq_len = 512;
  std::vector<int> bits = {2, 3, 4, 5, 6, 8};
  std::vector<int> group_sizes = {32, 64};
  std::vector<std::string> metrics = {"kl", "mse"};
  bool include_embedding = false;
  std::string format;          // mlx or gguf; empty: mlx
  std::string max_memory;      // --max-memory text; empty: the default
  // GGUF candidates: llama.cpp's k-quants and Q8_0 cover every type its
  // Q2_K..Q5_K_M recipes use, so the report can price the recipes.
  std::vector<std::string> types = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_0"};
};

// The requested candidate formats: affine bits x group sizes for MLX, the
// ggml types for GGUF. Throws optiq::Error for an invalid one.
std::vector<QuantFormat> requested_formats(const ProfileCommandOptions& options);
ExportFormat export_format_of(const ProfileCommandOptions& options);

// Adds --calib, --samples, --seq-len, --bits, --group-size, --format,
// --types, --include-embedding, --max-memory and, when with_metric,
// --metric to `command`.
void add_profile_options(CLI::App* command, ProfileCommandOptions& options, bool calib_required,
                         bool with_metric = true);

// Runs the profile with a configuration table first, a progress line per
// tensor and a timing summary at the end (all on stderr).
ProfileDocument run_profile_command(const LoadedModel& loaded, const std::string& model_path,
                                    const ProfileCommandOptions& options);

}  // namespace optiq::cli
