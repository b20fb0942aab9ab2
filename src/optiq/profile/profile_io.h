// profile.json: everything planning needs, so that planning at any budget
// runs no model. Importance vectors go to a safetensors file beside it
// (named in the JSON), since quantizing with a saved plan needs them.
#pragma once

#include <filesystem>
#include <string>

#include "optiq/profile/profiler.h"

namespace optiq {

struct ProfileInfo {
  std::string optiq_version;
  std::string model_path;
  std::string model_hash;  // hex digest of config and weights, see model_hash()
  std::string architecture;
  std::string calibration_file;
  int64_t samples = 0;
  int64_t requested_samples = 0;
  int64_t seq_len = 0;
  int64_t calibration_tokens = 0;
  std::vector<std::string> metrics;
  std::string source_path;  // where the profile was read from or written to
};

struct ProfileDocument {
  ProfileInfo info;
  ProfileResult result;
};

// Writes `path` (JSON) and `<path minus .json>.importance.safetensors`, each
// atomically.
void write_profile(const std::filesystem::path& path, const ProfileDocument& document);

// Reads a profile written by write_profile; importance vectors are loaded
// when the sidecar file exists. Throws optiq::Error naming the file and key.
ProfileDocument read_profile(const std::filesystem::path& path);

// 64-bit digest (hex) over the model's config values and every weight's
// stored bytes, read through the memory map.
std::string model_hash(const Model& model);

}  // namespace optiq
