// Profiling options shared by `optiq profile` and the one-command
// `optiq quantize --calib`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

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
};

// Adds --calib, --samples, --seq-len, --bits, --group-size,
// --include-embedding and, when with_metric, --metric to `command`.
void add_profile_options(CLI::App* command, ProfileCommandOptions& options, bool calib_required,
                         bool with_metric = true);

// Runs the profile with a configuration table first, a progress line per
// tensor and a timing summary at the end (all on stderr).
ProfileDocument run_profile_command(const LoadedModel& loaded, const std::string& model_path,
                                    const ProfileCommandOptions& options);

}  // namespace optiq::cli
