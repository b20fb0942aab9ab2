// GGUF reading: the file is memory-mapped and validated as untrusted input.
//
// Layout as specified in ggml's docs/gguf.md, all integers little-endian:
//   "GGUF", u32 version, u64 tensor count, u64 metadata count,
//   metadata entries: string key, u32 value type, value,
//   tensor infos: string name, u32 n_dims, u64 ne[n_dims], u32 ggml type,
//                 u64 offset relative to the data section,
//   zero padding to `general.alignment`, then the data section.
// A string is a u64 byte length followed by the bytes (no terminating NUL);
// an array is a u32 element type, a u64 element count and the elements.
//
// Checks, each failing with optiq::Error that names the file, the key or
// tensor, and the bad value:
// - magic; version 2 or 3 (version 1 had 32-bit counts and lengths and is
//   rejected, as are byte-swapped big-endian files);
// - every count, length and offset against the bytes left in the file, with
//   overflow-safe arithmetic; strings and arrays also capped at 2^30;
// - value type ids; nested arrays; bool bytes other than 0 and 1; empty or
//   duplicate keys;
// - `general.alignment`: type u32 and a power of two (default 32);
// - tensor names: non-empty, at most 63 bytes, no duplicates; n_dims <= 4;
//   dimensions non-negative with an element count below 2^63; known ggml
//   type ids; ne[0] a multiple of the type's block size;
// - tensor offsets: multiples of the alignment, each tensor's bytes inside
//   the data section, no two tensors overlapping.
// Zero-sized dimensions are accepted, as ggml's reader accepts them. The
// data section may end right after the last tensor's bytes: the padding
// after the last tensor that ggml's writer adds is not required.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "optiq/io/gguf_types.h"
#include "optiq/io/gguf_value.h"
#include "optiq/io/mapped_file.h"

namespace optiq {

struct GgufTensorInfo {
  std::string name;
  // Dimensions in ggml order, 0 to 4 entries. ne[0] is the fastest-varying
  // one (the row length), so ne is the reverse of a PyTorch shape.
  std::vector<int64_t> ne;
  uint32_t type = 0;  // ggml type id (gguf_tensor_type)
  // Offset of the tensor's bytes from the start of the data section.
  uint64_t offset = 0;
  // The tensor's bytes inside the mapped file, valid while the GgufFile
  // lives. May be unaligned in memory when the alignment is below 8.
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;

  // Product of ne (1 for a tensor without dimensions).
  int64_t numel() const;
};

class GgufFile {
 public:
  // Maps and validates `path`. Throws optiq::Error on any check above.
  explicit GgufFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  // Absolute file offset of the data section.
  uint64_t data_offset() const { return data_offset_; }

  // Metadata entries in file order.
  const std::vector<GgufValue>& metadata() const { return metadata_; }
  // nullptr when absent.
  const GgufValue* find(std::string_view key) const;
  // Throws optiq::Error naming the file and the key when absent.
  const GgufValue& at(std::string_view key) const;

  // Tensor infos in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // Throws optiq::Error naming the file and the tensor when absent.
  const GgufTensorInfo& tensor(std::string_view name) const;

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufValue> metadata_;
  std::map<std::string, size_t, std::less<>> key_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace optiq
