// Matrix products against weights in any storage format.
#pragma once

#include <cstdint>

#include "optiq/model/matrix.h"

namespace optiq {

// y[n, w.rows()] = x[n, w.cols()] · wᵀ, row-major. Weights that are not
// aligned F32 are converted a tile of rows at a time (at most
// kMatmulTileElements floats per thread) and multiplied with OpenBLAS sgemm, so memory
// stays near the stored size.
void matmul(const float* x, int64_t n, const Matrix& w, float* y);

inline constexpr int64_t kMatmulTileElements = int64_t{1} << 20;

}  // namespace optiq
