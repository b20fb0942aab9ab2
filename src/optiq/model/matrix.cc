#include "optiq/model/matrix.h"

#include "optiq/core/error.h"
#include "optiq/core/parallel.h"

namespace optiq {
namespace {

class DenseStorage : public MatrixStorage {
 public:
  DenseStorage(DType dtype, const void* data, std::shared_ptr<const void> owner)
      : dtype_(dtype), data_(static_cast<const uint8_t*>(data)), owner_(std::move(owner)) {}

  void to_float_rows(int64_t cols, int64_t row_begin, int64_t row_end, float* out) const override {
    size_t element = dtype_size(dtype_);
    convert_to_float(dtype_, data_ + static_cast<size_t>(row_begin * cols) * element, out,
                     static_cast<size_t>((row_end - row_begin) * cols));
  }
  uint64_t storage_bytes(int64_t rows, int64_t cols) const override {
    return static_cast<uint64_t>(rows * cols) * dtype_size(dtype_);
  }
  std::string format_name() const override { return std::string(dtype_name(dtype_)); }
  const float* f32_data() const override {
    bool aligned = reinterpret_cast<uintptr_t>(data_) % alignof(float) == 0;
    return dtype_ == DType::F32 && aligned ? reinterpret_cast<const float*>(data_) : nullptr;
  }

 private:
  DType dtype_;
  const uint8_t* data_;
  std::shared_ptr<const void> owner_;
};

class FloatStorage : public MatrixStorage {
 public:
  explicit FloatStorage(std::vector<float> values) : values_(std::move(values)) {}
  void to_float_rows(int64_t cols, int64_t row_begin, int64_t row_end, float* out) const override {
    std::copy(values_.begin() + row_begin * cols, values_.begin() + row_end * cols, out);
  }
  uint64_t storage_bytes(int64_t rows, int64_t cols) const override {
    return static_cast<uint64_t>(rows * cols) * 4;
  }
  std::string format_name() const override { return "F32"; }
  const float* f32_data() const override { return values_.data(); }

 private:
  std::vector<float> values_;
};

}  // namespace

Matrix Matrix::dense(std::string name, int64_t rows, int64_t cols, DType dtype, const void* data,
                     std::shared_ptr<const void> owner) {
  if (!is_float_dtype(dtype)) {
    fail("tensor '{}': unsupported dtype {} for a weight (supported: F32, F16, BF16)", name,
         dtype_name(dtype));
  }
  return Matrix(std::move(name), rows, cols,
                std::make_shared<DenseStorage>(dtype, data, std::move(owner)));
}

Matrix Matrix::from_floats(std::string name, int64_t rows, int64_t cols, std::vector<float> values) {
  OPTIQ_ASSERT(static_cast<int64_t>(values.size()) == rows * cols);
  return Matrix(std::move(name), rows, cols, std::make_shared<FloatStorage>(std::move(values)));
}

void Matrix::to_float_rows(int64_t row_begin, int64_t row_end, float* out) const {
  OPTIQ_ASSERT(row_begin >= 0 && row_begin <= row_end && row_end <= rows_);
  storage_->to_float_rows(cols_, row_begin, row_end, out);
}

std::vector<float> Matrix::to_floats() const {
  std::vector<float> values(static_cast<size_t>(numel()));
  // Row blocks convert in parallel; each row is written by one thread.
  constexpr int64_t kBlock = 64;
  int64_t blocks = (rows_ + kBlock - 1) / kBlock;
  parallel_for(blocks, [&](int64_t b) {
    int64_t begin = b * kBlock;
    int64_t end = std::min(rows_, begin + kBlock);
    to_float_rows(begin, end, values.data() + begin * cols_);
  }, kBlock * cols_);
  return values;
}

}  // namespace optiq
