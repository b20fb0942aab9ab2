// GGUF writing: metadata and tensors are collected, then written in one pass
// to a temporary file that is renamed over the destination when complete.
//
// The output layout matches ggml's writer (gguf_write_to_file). It has
// version 3, the metadata in the order it was first set and the tensor infos
// in the order they were added. Zero padding to the alignment follows the
// header and each tensor's bytes. The alignment is the u32 value of
// `general.alignment` when set, else 32.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "optiq/io/gguf_types.h"
#include "optiq/io/gguf_value.h"

namespace optiq {

class GgufWriter {
 public:
  // Sets a metadata entry. Setting an existing key replaces its value and
  // keeps its position. Throws optiq::Error on an empty key or one longer
  // than 65535 bytes (the limit docs/gguf.md sets).
  void set(GgufValue value);

  void set_uint8(std::string key, uint8_t value) {
    set({std::move(key), value});
  }
  void set_int8(std::string key, int8_t value) { set({std::move(key), value}); }
  void set_uint16(std::string key, uint16_t value) {
    set({std::move(key), value});
  }
  void set_int16(std::string key, int16_t value) {
    set({std::move(key), value});
  }
  void set_uint32(std::string key, uint32_t value) {
    set({std::move(key), value});
  }
  void set_int32(std::string key, int32_t value) {
    set({std::move(key), value});
  }
  void set_uint64(std::string key, uint64_t value) {
    set({std::move(key), value});
  }
  void set_int64(std::string key, int64_t value) {
    set({std::move(key), value});
  }
  void set_float32(std::string key, float value) {
    set({std::move(key), value});
  }
  void set_float64(std::string key, double value) {
    set({std::move(key), value});
  }
  void set_bool(std::string key, bool value) { set({std::move(key), value}); }
  void set_string(std::string key, std::string value) {
    set({std::move(key), std::move(value)});
  }
  void set_string_array(std::string key, std::vector<std::string> values) {
    set({std::move(key), std::move(values)});
  }
  void set_float32_array(std::string key, std::vector<float> values) {
    set({std::move(key), std::move(values)});
  }
  void set_int32_array(std::string key, std::vector<int32_t> values) {
    set({std::move(key), std::move(values)});
  }
  void set_uint32_array(std::string key, std::vector<uint32_t> values) {
    set({std::move(key), std::move(values)});
  }

  // nullptr when `key` is not set.
  const GgufValue* find(std::string_view key) const;
  // Entries in output order.
  const std::vector<GgufValue>& metadata() const { return metadata_; }

  // Adds a tensor whose bytes stay owned by the caller, so `data` must remain
  // valid and unchanged until the last write() returns. `ne` is in ggml
  // order (ne[0] the row length) with 1 to 4 entries, and `type` is a ggml
  // type id. `data` must hold exactly gguf_tensor_nbytes(type, ne) bytes.
  // Throws optiq::Error on an empty, duplicate or over-63-byte name, an
  // invalid shape or type, or a size mismatch.
  void add_tensor(std::string name, std::vector<int64_t> ne, uint32_t type,
                  std::span<const uint8_t> data);
  // As add_tensor, but the writer takes ownership of `data`.
  void add_owned_tensor(std::string name, std::vector<int64_t> ne,
                        uint32_t type, std::vector<uint8_t> data);

  size_t tensor_count() const { return tensors_.size(); }

  // Writes the file atomically. Throws optiq::Error naming the path when
  // writing fails or `general.alignment` is not a u32 power of two. The
  // writer is unchanged, so it can write again.
  void write(const std::filesystem::path& path) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type = 0;
    std::span<const uint8_t> data;
    std::vector<uint8_t> owned;  // backs `data` for add_owned_tensor
  };

  uint32_t alignment() const;
  // Everything before the data section, padding included.
  std::string serialize_header(uint32_t alignment) const;

  std::vector<GgufValue> metadata_;
  std::map<std::string, size_t, std::less<>> key_index_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace optiq
