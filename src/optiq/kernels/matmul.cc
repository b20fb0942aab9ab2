#include "optiq/kernels/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <vector>

#include "optiq/core/parallel.h"

namespace optiq {
namespace {

void sgemm_nt(const float* x, int64_t n, const float* w, int64_t rows, int64_t cols, float* y,
              int64_t ldy) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(n),
              static_cast<blasint>(rows), static_cast<blasint>(cols), 1.0f, x,
              static_cast<blasint>(cols), w, static_cast<blasint>(cols), 0.0f, y,
              static_cast<blasint>(ldy));
}

// Weight rows are split into at most kMaxSlices slices of at least
// kMinSliceRows rows, a multiple of kRowAlignment.
constexpr int64_t kMaxSlices = 32;
constexpr int64_t kMinSliceRows = 64;
constexpr int64_t kRowAlignment = 16;

}  // namespace

// optiq runs one thread pool (OpenMP) and keeps OpenBLAS single-threaded:
// each worker multiplies its own contiguous slice of weight rows. Two pools
// spinning against each other were several times slower on a busy machine,
// and slices make the split independent of the thread count.
void matmul(const float* x, int64_t n, const Matrix& w, float* y) {
  static const bool single_threaded_blas = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)single_threaded_blas;
  const int64_t rows = w.rows();
  const int64_t cols = w.cols();
  if (n == 0 || rows == 0) return;
  const float* direct = w.storage().f32_data();

  // The slicing depends only on the shape, never on the thread count, so
  // every output element comes from the same sgemm call shape and the result
  // is bit-identical whatever the number of threads.
  int64_t slice_rows = std::max<int64_t>(kMinSliceRows, (rows + kMaxSlices - 1) / kMaxSlices);
  slice_rows = (slice_rows + kRowAlignment - 1) / kRowAlignment * kRowAlignment;
  const int64_t slices = (rows + slice_rows - 1) / slice_rows;

  parallel_for(slices, [&](int64_t slice) {
    const int64_t begin = slice * slice_rows;
    const int64_t end = std::min(rows, begin + slice_rows);
    if (direct != nullptr) {
      sgemm_nt(x, n, direct + begin * cols, end - begin, cols, y + begin, rows);
      return;
    }
    const int64_t tile_rows =
        std::clamp<int64_t>(kMatmulTileElements / std::max<int64_t>(cols, 1), 1, end - begin);
    thread_local std::vector<float> tile;  // this worker's own buffer
    tile.resize(static_cast<size_t>(tile_rows * cols));
    for (int64_t r0 = begin; r0 < end; r0 += tile_rows) {
      const int64_t r1 = std::min(end, r0 + tile_rows);
      w.to_float_rows(r0, r1, tile.data());
      sgemm_nt(x, n, tile.data(), r1 - r0, cols, y + r0, rows);
    }
  }, n * slice_rows * cols);
}

}  // namespace optiq
