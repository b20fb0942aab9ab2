#include "optiq/model/quantized_storage.h"

#include <fmt/ranges.h>

#include "optiq/core/error.h"
#include "optiq/quant/affine.h"

namespace optiq {
namespace {

class AffineStorage : public MatrixStorage {
 public:
  AffineStorage(AffineFormat format, DType scale_dtype, const void* packed, const void* scales,
                const void* biases, std::shared_ptr<const void> owner)
      : format_(format),
        scale_dtype_(scale_dtype),
        packed_(packed),
        scales_(scales),
        biases_(biases),
        owner_(std::move(owner)) {}

  void to_float_rows(int64_t cols, int64_t row_begin, int64_t row_end, float* out) const override {
    dequantize_affine_rows(packed_, scales_, biases_, scale_dtype_, cols, format_, row_begin,
                           row_end, out);
  }
  uint64_t storage_bytes(int64_t rows, int64_t cols) const override {
    return affine_storage_bytes(rows, cols, format_, scale_dtype_);
  }
  std::string format_name() const override {
    return fmt::format("a{}g{}", format_.bits, format_.group_size);
  }

 private:
  AffineFormat format_;
  DType scale_dtype_;
  const void* packed_;
  const void* scales_;
  const void* biases_;
  std::shared_ptr<const void> owner_;
};

int read_int(const nlohmann::json& object, const char* key, const std::string& where) {
  if (!object.contains(key) || !object[key].is_number_integer()) {
    fail("{}: quantization entry {} has no integer '{}'", where, object.dump(), key);
  }
  return object[key].get<int>();
}

}  // namespace

Matrix load_mlx_affine_matrix(const std::string& module, int64_t rows, int64_t cols,
                              const TensorView& weight, const TensorView& scales,
                              const TensorView& biases, std::shared_ptr<const void> owner,
                              const nlohmann::json& quantization, const std::string& source) {
  const std::string where = fmt::format("{}: module '{}'", source, module);
  if (!quantization.is_object()) {
    fail("{} has scales but config.json has no 'quantization' section", where);
  }
  AffineFormat format{read_int(quantization, "bits", source),
                      read_int(quantization, "group_size", source)};
  if (quantization.contains(module) && quantization[module].is_object()) {
    format = {read_int(quantization[module], "bits", where),
              read_int(quantization[module], "group_size", where)};
  }
  if (!is_valid_affine_format(format)) {
    fail("{}: unsupported quantization of {} bits with group size {}", where, format.bits,
         format.group_size);
  }
  if (cols % format.group_size != 0) {
    fail("{}: {} inputs are not divisible by group size {}", where, cols, format.group_size);
  }
  auto expect = [&](const TensorView& view, DType dtype, std::vector<int64_t> shape) {
    if (view.dtype != dtype || view.shape != shape) {
      fail("{}: tensor '{}' is {} [{}], expected {} [{}] for {}-bit group-{} quantization",
           source, view.name, dtype_name(view.dtype), fmt::join(view.shape, ", "),
           dtype_name(dtype), fmt::join(shape, ", "), format.bits, format.group_size);
    }
  };
  expect(weight, DType::U32, {rows, cols * format.bits / 32});
  if (!is_valid_affine_scale_dtype(scales.dtype)) {
    fail("{}: scales '{}' have unsupported dtype {}", source, scales.name, dtype_name(scales.dtype));
  }
  expect(scales, scales.dtype, {rows, cols / format.group_size});
  expect(biases, scales.dtype, {rows, cols / format.group_size});
  auto storage = std::make_shared<AffineStorage>(format, scales.dtype, weight.data, scales.data,
                                                 biases.data, std::move(owner));
  return Matrix(module + ".weight", rows, cols, std::move(storage));
}

}  // namespace optiq
