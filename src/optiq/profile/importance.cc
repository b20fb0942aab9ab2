#include "optiq/profile/importance.h"

#include "optiq/core/parallel.h"

namespace optiq {

void ImportanceCollector::observe(int64_t layer, Projection projection, const float* x, int64_t n,
                                  int64_t cols) {
  Sums& sums = sums_[{layer, static_cast<int>(projection)}];
  sums.sum.resize(static_cast<size_t>(cols), 0.0);
  sums.rows += n;
  // Each channel is summed by one thread in row order: deterministic.
  constexpr int64_t kBlock = 64;
  parallel_for((cols + kBlock - 1) / kBlock, [&](int64_t b) {
    const int64_t begin = b * kBlock;
    const int64_t end = std::min(cols, begin + kBlock);
    for (int64_t t = 0; t < n; ++t) {
      const float* row = x + t * cols;
      for (int64_t i = begin; i < end; ++i) sums.sum[i] += static_cast<double>(row[i]) * row[i];
    }
  }, kBlock * n);
}

std::map<std::string, std::vector<float>> ImportanceCollector::result() const {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [key, sums] : sums_) {
    std::vector<float> mean(sums.sum.size());
    for (size_t i = 0; i < mean.size(); ++i) {
      mean[i] = static_cast<float>(sums.sum[i] / static_cast<double>(std::max<int64_t>(sums.rows, 1)));
    }
    const auto [layer, site] = key;
    if (layer < 0) {
      out[model_.config.tied_embeddings ? "model.embed_tokens" : "lm_head"] = mean;
      continue;
    }
    auto projection = static_cast<Projection>(site);
    if (projection == Projection::kQ) {
      for (Projection p : {Projection::kQ, Projection::kK, Projection::kV}) {
        out[projection_module(layer, p)] = mean;
      }
    } else if (projection == Projection::kGate) {
      for (Projection p : {Projection::kGate, Projection::kUp}) out[projection_module(layer, p)] = mean;
    } else {
      out[projection_module(layer, projection)] = mean;
    }
  }
  return out;
}

}  // namespace optiq
