// safetensors reading (memory-mapped, validated as untrusted input) and
// writing (atomic).
//
// Format: 8-byte little-endian header length N, N bytes of JSON mapping each
// tensor name to {dtype, shape, data_offsets: [begin, end]} relative to the
// data section that follows, plus an optional "__metadata__" string map.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "optiq/core/dtype.h"
#include "optiq/io/mapped_file.h"

namespace optiq {

// Headers larger than this are rejected before parsing (100 MB, the cap the
// reference Rust implementation uses).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // inside the mapped file; may be unaligned
  uint64_t nbytes = 0;

  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`; throws optiq::Error naming the file, the tensor
  // or key and the bad value.
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // nullptr when absent.
  const TensorView* find(std::string_view name) const;
  // Throws optiq::Error naming the file when absent.
  const TensorView& at(std::string_view name) const;

 private:
  MappedFile file_;
  std::vector<TensorView> tensors_;  // sorted by name
  std::map<std::string, std::string> metadata_;
};

struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // numel * dtype_size bytes
};

// Writes a safetensors file atomically (temporary file, then rename).
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Product of dims; throws optiq::Error on a negative dim or overflow.
int64_t checked_numel(const std::vector<int64_t>& shape, std::string_view what);

}  // namespace optiq
