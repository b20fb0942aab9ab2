// Per-input-channel activation energy (mean x²) of every linear projection,
// gathered from full-precision forward passes. Quantizers weight their
// rounding error by it, as llama.cpp's importance matrix does.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "optiq/model/forward.h"

namespace optiq {

class ImportanceCollector : public LinearInputObserver {
 public:
  explicit ImportanceCollector(const Model& model) : model_(model) {}

  void observe(int64_t layer, Projection projection, const float* x, int64_t n,
               int64_t cols) override;

  // Mean x² per input channel keyed by module name ("model.layers.0.mlp.up_proj",
  // "lm_head", or "model.embed_tokens" for a tied head). Modules that share
  // an input (q/k/v, gate/up) get the same vector.
  std::map<std::string, std::vector<float>> result() const;

 private:
  struct Sums {
    std::vector<double> sum;
    int64_t rows = 0;
  };
  const Model& model_;
  std::map<std::pair<int64_t, int>, Sums> sums_;
};

}  // namespace optiq
