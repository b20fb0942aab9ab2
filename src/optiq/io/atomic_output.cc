#include "optiq/io/atomic_output.h"

#include <unistd.h>

#include <fstream>
#include <random>
#include <system_error>

#include "optiq/core/error.h"

namespace fs = std::filesystem;

namespace optiq {

AtomicOutput::AtomicOutput(fs::path destination, bool is_directory)
    : destination_(std::move(destination)), is_directory_(is_directory) {
  fs::path parent = destination_.parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  if (!fs::is_directory(parent, ec)) {
    fail("cannot write '{}': folder '{}' does not exist", destination_.string(),
         parent.string());
  }
  std::random_device random;
  temporary_ = parent / fmt::format(".{}.tmp-{}-{:08x}", destination_.filename().string(),
                                    ::getpid(), random());
  if (is_directory_ && !fs::create_directory(temporary_, ec)) {
    fail("cannot create folder '{}': {}", temporary_.string(), ec.message());
  }
}

AtomicOutput::~AtomicOutput() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(temporary_, ec);
}

void AtomicOutput::commit() {
  std::error_code ec;
  if (is_directory_ && fs::exists(destination_, ec)) {
    if (!fs::is_directory(destination_, ec)) {
      fail("cannot write folder '{}': a file of that name exists", destination_.string());
    }
    fs::remove_all(destination_, ec);
    if (ec) fail("cannot replace '{}': {}", destination_.string(), ec.message());
  }
  fs::rename(temporary_, destination_, ec);
  if (ec) {
    fail("cannot rename '{}' to '{}': {}", temporary_.string(), destination_.string(),
         ec.message());
  }
  committed_ = true;
}

void write_file_atomic(const fs::path& path, const std::string& contents) {
  AtomicOutput output(path, /*is_directory=*/false);
  {
    std::ofstream stream(output.temporary_path(), std::ios::binary);
    stream.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    stream.close();
    if (!stream) fail("cannot write '{}'", output.temporary_path().string());
  }
  output.commit();
}

}  // namespace optiq
