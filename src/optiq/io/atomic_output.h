// Output that appears only when complete: data is written to a temporary
// sibling path and renamed over the destination on commit(). Destroying an
// uncommitted object removes the temporary, so a failure leaves nothing.
#pragma once

#include <filesystem>
#include <string>

namespace optiq {

class AtomicOutput {
 public:
  // is_directory: create an empty temporary directory instead of a file path.
  AtomicOutput(std::filesystem::path destination, bool is_directory);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  // Where to write: a file path or a directory, both not yet at destination.
  const std::filesystem::path& temporary_path() const { return temporary_; }

  // Renames the temporary over the destination; an existing destination
  // directory is replaced.
  void commit();

 private:
  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  bool is_directory_;
  bool committed_ = false;
};

// Writes `contents` to `path` atomically.
void write_file_atomic(const std::filesystem::path& path, const std::string& contents);

}  // namespace optiq
