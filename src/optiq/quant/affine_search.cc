#include "optiq/quant/affine_search.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace optiq::affine_detail {
namespace {

// Candidate ranges are [lo, hi] shrunk about its center to these fractions
// of its width, and every candidate gets a least-squares refit of its scale
// and bias. The winner then gets up to kRefitRounds more rounds of
// re-choosing codes and refitting (Lloyd iterations).
// Measured once while tuning on the 42 projection matrices of the BF16
// 6.8M-parameter Llama in the test data, with group size 64. Summed over the
// matrices, the relative squared error is 27%, 19%, 12% and 2% below MLX's
// rule at 2, 3, 4 and 6 bits with equal channel weights. With log-normal
// channel importances (sigma 1.5) it is 43%, 40%, 36% and 21% below. Trying
// 8 ratios in steps of 0.05 instead changed these by under 1%.
constexpr float kShrinkRatios[] = {0.93f, 0.86f, 0.79f};
constexpr int kRefitRounds = 3;

// Weighted sums over a group for the codes q that `params` gives and the
// residuals d = x - (scale·q + bias): the squared error and the moments
// that the least-squares refit needs.
struct Moments {
  double error = 0;  // sum w·d²
  double dq = 0;     // sum w·d·q
  double d = 0;      // sum w·d
  double qq = 0;     // sum w·q²
  double q = 0;      // sum w·q
};

// Codes here come from multiplying by 1/scale rather than dividing, so they
// can differ from quantize_group_codes at exact ties. This only affects the
// estimate because the caller re-derives the winner's codes.
Moments measure(const float* x, const float* weight, int count, float n_bins,
                GroupParams params) {
  const float inverse = 1.0f / params.scale;
  float error[kLanes] = {}, dq[kLanes] = {}, d[kLanes] = {}, qq[kLanes] = {},
        q[kLanes] = {};
  for (int c = 0; c < count; c += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float v = x[c + l];
      float code = std::rint((v - params.bias) * inverse);
      code = std::min(std::max(code, 0.0f), n_bins);
      const float residual = v - (params.scale * code + params.bias);
      const float wr = weight[c + l] * residual;
      const float wc = weight[c + l] * code;
      error[l] += wr * residual;
      dq[l] += wr * code;
      d[l] += wr;
      qq[l] += wc * code;
      q[l] += wc;
    }
  }
  return {reduce_lanes(error), reduce_lanes(dq), reduce_lanes(d),
          reduce_lanes(qq), reduce_lanes(q)};
}

bool usable(GroupParams params) {
  return std::isfinite(params.scale) && std::isfinite(params.bias) &&
         params.scale != 0.0f;
}

struct Candidate {
  GroupParams params;
  double error = std::numeric_limits<double>::infinity();
};

// Measures `params` and its weighted least-squares refit for the same codes
// (rounded to the scale dtype); returns the better of the two by estimated
// error.
Candidate evaluate(const float* x, const float* weight, int count, float n_bins,
                   double weight_sum, DType scale_dtype, GroupParams params) {
  const Moments m = measure(x, weight, count, n_bins, params);
  Candidate best{params, m.error};
  // Minimise sum w·(d - ds·q - db)² over (ds, db). The normal equations are
  // [qq q; q w] [ds; db] = [dq; d].
  const double det = m.qq * weight_sum - m.q * m.q;
  if (!(det > 1e-12 * m.qq * weight_sum)) return best;  // all codes equal
  const double inverse_det = 1.0 / det;
  const double ds = (m.dq * weight_sum - m.d * m.q) * inverse_det;
  const double db = (m.qq * m.d - m.q * m.dq) * inverse_det;
  const GroupParams refit{
      round_to_scale_dtype(static_cast<float>(params.scale + ds), scale_dtype),
      round_to_scale_dtype(static_cast<float>(params.bias + db), scale_dtype)};
  if (!usable(refit)) return best;
  // Error of the rounded refit for the same codes, expanded around the
  // measured residuals so that no large terms cancel.
  const double rs = static_cast<double>(refit.scale) - params.scale;
  const double rb = static_cast<double>(refit.bias) - params.bias;
  const double error = m.error - 2 * rs * m.dq - 2 * rb * m.d + rs * rs * m.qq +
                       2 * rs * rb * m.q + rb * rb * weight_sum;
  if (error < best.error) best = {refit, error};
  return best;
}

}  // namespace

GroupParams search_clipped_params(const float* x, const float* weight,
                                  int count, int bits, DType scale_dtype,
                                  float lo, float hi, GroupParams base) {
  const float n_bins = static_cast<float>((1 << bits) - 1);
  float weight_lanes[kLanes] = {};
  for (int c = 0; c < count; c += kLanes) {
    for (int l = 0; l < kLanes; ++l) weight_lanes[l] += weight[c + l];
  }
  const double weight_sum = reduce_lanes(weight_lanes);

  Candidate best =
      evaluate(x, weight, count, n_bins, weight_sum, scale_dtype, base);
  const float center = 0.5f * (lo + hi);
  const float half_width = 0.5f * (hi - lo);
  for (float ratio : kShrinkRatios) {
    const GroupParams unrounded = mlx_group_params(
        center - ratio * half_width, center + ratio * half_width, bits);
    const GroupParams params{round_to_scale_dtype(unrounded.scale, scale_dtype),
                             round_to_scale_dtype(unrounded.bias, scale_dtype)};
    if (!usable(params)) continue;
    const Candidate candidate =
        evaluate(x, weight, count, n_bins, weight_sum, scale_dtype, params);
    if (candidate.error < best.error) best = candidate;
  }
  for (int round = 0; round < kRefitRounds; ++round) {
    const Candidate again = evaluate(x, weight, count, n_bins, weight_sum,
                                     scale_dtype, best.params);
    if (!(again.error < best.error)) break;
    best = again;
  }
  return best.params;
}

}  // namespace optiq::affine_detail
