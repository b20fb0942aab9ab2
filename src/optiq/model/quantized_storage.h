// Matrix storage for quantized encodings read from files.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "optiq/io/safetensors.h"
#include "optiq/model/matrix.h"

namespace optiq {

// A module stored in MLX's affine layout: `weight` uint32 [rows,
// cols*bits/32], `scales` and `biases` [rows, cols/group_size]. Bits and group
// size come from the per-module entry of `quantization` (config.json) or its
// defaults, and must agree with the tensor shapes.
Matrix load_mlx_affine_matrix(const std::string& module, int64_t rows, int64_t cols,
                              const TensorView& weight, const TensorView& scales,
                              const TensorView& biases, std::shared_ptr<const void> owner,
                              const nlohmann::json& quantization, const std::string& source);

}  // namespace optiq
