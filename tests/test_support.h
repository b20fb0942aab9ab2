// Helpers shared by the tests: where the real inputs live, scratch folders
// and running the optiq binary.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace optiq::testing {

// Folder with the real models and data: $OPTIQ_SHARED_DIR, else the path
// configured at build time (../shared next to the source tree).
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("OPTIQ_SHARED_DIR"); env && *env) return env;
  return OPTIQ_DEFAULT_SHARED_DIR;
}

inline std::filesystem::path shared_path(const std::string& relative) {
  return shared_dir() / relative;
}

// A fresh empty folder under the system temp dir, removed at destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline ScratchDir::ScratchDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "optiq-test-XXXXXX").string();
  char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = made;
}

inline ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the optiq binary with `args` (shell words), capturing stdout and stderr.
CommandResult run_optiq(const std::string& args);

std::string read_text(const std::filesystem::path& path);

}  // namespace optiq::testing

// Skips the current test with a clear message when a shared input is absent.
#define OPTIQ_REQUIRE_SHARED(relative)                                          \
  do {                                                                          \
    if (!std::filesystem::exists(::optiq::testing::shared_path(relative))) {    \
      GTEST_SKIP() << "shared input " << ::optiq::testing::shared_path(relative) \
                   << " not found; set OPTIQ_SHARED_DIR to the shared folder";   \
    }                                                                           \
  } while (false)
