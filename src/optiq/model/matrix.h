// A weight matrix [rows = output features, cols = input features] in any
// storage format: dense F32/F16/BF16 (usually inside a memory-mapped file),
// an owned float buffer, or a quantized encoding. Consumers convert rows to
// float on demand, a tile at a time, so weights stay in their stored format.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "optiq/core/dtype.h"

namespace optiq {

// Storage behind a Matrix. Implementations must be safe to read from many
// threads at once.
class MatrixStorage {
 public:
  virtual ~MatrixStorage() = default;
  // Writes rows [row_begin, row_end) as float, row-major, into out.
  virtual void to_float_rows(int64_t cols, int64_t row_begin, int64_t row_end,
                             float* out) const = 0;
  // Bytes the matrix occupies in its storage format.
  virtual uint64_t storage_bytes(int64_t rows, int64_t cols) const = 0;
  // Short description such as "BF16" or "affine 4-bit g64".
  virtual std::string format_name() const = 0;
  // Pointer to row-major, 4-byte aligned F32 data, or nullptr.
  virtual const float* f32_data() const { return nullptr; }
};

class Matrix {
 public:
  Matrix() = default;
  Matrix(std::string name, int64_t rows, int64_t cols, std::shared_ptr<const MatrixStorage> storage)
      : name_(std::move(name)), rows_(rows), cols_(cols), storage_(std::move(storage)) {}

  // Dense matrix over `data` (rows*cols elements of a float dtype, any
  // alignment); `owner` keeps the memory alive (e.g. the mapped file).
  static Matrix dense(std::string name, int64_t rows, int64_t cols, DType dtype, const void* data,
                      std::shared_ptr<const void> owner);
  // Matrix that owns its float values.
  static Matrix from_floats(std::string name, int64_t rows, int64_t cols, std::vector<float> values);

  const std::string& name() const { return name_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t numel() const { return rows_ * cols_; }
  bool empty() const { return storage_ == nullptr; }
  const MatrixStorage& storage() const { return *storage_; }
  const std::shared_ptr<const MatrixStorage>& storage_ptr() const { return storage_; }

  void to_float_rows(int64_t row_begin, int64_t row_end, float* out) const;
  std::vector<float> to_floats() const;
  uint64_t storage_bytes() const { return storage_->storage_bytes(rows_, cols_); }
  std::string format_name() const { return storage_->format_name(); }

 private:
  std::string name_;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  std::shared_ptr<const MatrixStorage> storage_;
};

}  // namespace optiq
