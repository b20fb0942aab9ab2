#include "optiq/model/quantized_storage.h"

#include "optiq/core/error.h"

namespace optiq {

Matrix load_mlx_affine_matrix(const std::string& module, int64_t rows, int64_t cols,
                              const TensorView& weight, const TensorView& scales,
                              const TensorView& biases, std::shared_ptr<const void> owner,
                              const nlohmann::json& quantization, const std::string& source) {
  fail("{}: module '{}' is quantized; reading MLX quantized weights is not supported yet", source,
       module);
}

}  // namespace optiq
