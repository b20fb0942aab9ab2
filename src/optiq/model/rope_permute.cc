#include "optiq/model/rope_permute.h"

#include <algorithm>

#include "optiq/core/error.h"

namespace optiq {
namespace {

std::vector<float> permute(const std::vector<float>& in, int64_t rows, int64_t cols, int64_t heads,
                           bool to_halves) {
  OPTIQ_ASSERT(heads > 0 && rows % heads == 0 && (rows / heads) % 2 == 0);
  OPTIQ_ASSERT(static_cast<int64_t>(in.size()) == rows * cols);
  std::vector<float> out(in.size());
  const int64_t head_dim = rows / heads;
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t s = 0; s < 2; ++s) {
      for (int64_t i = 0; i < half; ++i) {
        int64_t interleaved = h * head_dim + 2 * i + s;
        int64_t halves = h * head_dim + s * half + i;
        int64_t from = to_halves ? interleaved : halves;
        int64_t to = to_halves ? halves : interleaved;
        std::copy_n(in.data() + from * cols, cols, out.data() + to * cols);
      }
    }
  }
  return out;
}

}  // namespace

std::vector<float> interleaved_to_halves(const std::vector<float>& weights, int64_t rows,
                                         int64_t cols, int64_t heads) {
  return permute(weights, rows, cols, heads, true);
}

std::vector<float> halves_to_interleaved(const std::vector<float>& weights, int64_t rows,
                                         int64_t cols, int64_t heads) {
  return permute(weights, rows, cols, heads, false);
}

}  // namespace optiq
