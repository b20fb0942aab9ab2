#include "optiq/quant/affine_group.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "optiq/core/error.h"
#include "optiq/quant/affine_search.h"

namespace optiq::affine_detail {
namespace {

template <DType kDType>
float round_to(float x) {
  if constexpr (kDType == DType::F16) {
    return round_to_f16(x);
  } else if constexpr (kDType == DType::BF16) {
    return round_to_bf16(x);
  } else {
    return x;
  }
}

template <DType kDType>
void dequantize_group_as(const uint8_t* codes, int count, GroupParams params,
                         float* out) {
  // Two loops through memory so that the product is rounded before the add
  // even for F32, where a compiler could otherwise fuse them into one FMA
  // and differ from MLX's separate multiply and add.
  float product[kMaxGroupSize];
  for (int j = 0; j < count; ++j) {
    product[j] = round_to<kDType>(static_cast<float>(codes[j]) * params.scale);
  }
  for (int j = 0; j < count; ++j) {
    out[j] = round_to<kDType>(product[j] + params.bias);
  }
}

// Weighted squared error sum_j weight_j (x_j - dequant_j)^2, in lanes.
double weighted_error(const float* x, const float* dequant, const float* weight,
                      int count) {
  float lanes[kLanes] = {};
  for (int c = 0; c < count; c += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float d = x[c + l] - dequant[c + l];
      lanes[l] += weight[c + l] * d * d;
    }
  }
  return reduce_lanes(lanes);
}

struct GroupRange {
  float lo = 0.0f;
  float hi = 0.0f;
  bool finite = true;
};

GroupRange group_range(const float* x, int count) {
  float lo_lanes[kLanes];
  float hi_lanes[kLanes];
  // NaN and infinity times zero give NaN, so `poison` stays zero exactly
  // when every value is finite.
  float poison_lanes[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    lo_lanes[l] = x[l];
    hi_lanes[l] = x[l];
    poison_lanes[l] = 0.0f;
  }
  for (int c = 0; c < count; c += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const float v = x[c + l];
      lo_lanes[l] = v < lo_lanes[l] ? v : lo_lanes[l];
      hi_lanes[l] = v > hi_lanes[l] ? v : hi_lanes[l];
      poison_lanes[l] += v * 0.0f;
    }
  }
  GroupRange range{lo_lanes[0], hi_lanes[0], true};
  for (int l = 1; l < kLanes; ++l) {
    range.lo = std::min(range.lo, lo_lanes[l]);
    range.hi = std::max(range.hi, hi_lanes[l]);
  }
  range.finite = reduce_lanes(poison_lanes) == 0.0f;
  return range;
}

bool is_finite(GroupParams params) {
  return std::isfinite(params.scale) && std::isfinite(params.bias);
}

const float* unit_weights() {
  static const auto* ones = [] {
    auto* values = new float[kMaxGroupSize];
    std::fill(values, values + kMaxGroupSize, 1.0f);
    return values;
  }();
  return ones;
}

}  // namespace

GroupParams mlx_group_params(float lo, float hi, int bits) {
  const float n_bins = static_cast<float>((1 << bits) - 1);
  const float eps = 1e-7f;
  const bool min_is_edge = std::abs(lo) > std::abs(hi);
  float scale = std::max((hi - lo) / n_bins, eps);
  scale = min_is_edge ? scale : -scale;
  const float edge = min_is_edge ? lo : hi;
  const float q0 = std::rint(edge / scale);
  GroupParams params{scale, 0.0f};
  if (q0 != 0.0f) {
    params.scale = edge / q0;
    params.bias = edge;
  }
  return params;
}

void quantize_group_codes(const float* x, int count, GroupParams params,
                          int bits, uint8_t* codes) {
  OPTIQ_ASSERT(params.scale != 0.0f);
  const float n_bins = static_cast<float>((1 << bits) - 1);
  for (int j = 0; j < count; ++j) {
    float q = std::rint((x[j] - params.bias) / params.scale);
    q = std::min(std::max(q, 0.0f), n_bins);
    codes[j] = static_cast<uint8_t>(q);
  }
}

void dequantize_group(const uint8_t* codes, int count, GroupParams params,
                      DType scale_dtype, float* out) {
  switch (scale_dtype) {
    case DType::F16:
      dequantize_group_as<DType::F16>(codes, count, params, out);
      return;
    case DType::BF16:
      dequantize_group_as<DType::BF16>(codes, count, params, out);
      return;
    case DType::F32:
      dequantize_group_as<DType::F32>(codes, count, params, out);
      return;
    default:
      OPTIQ_ASSERT(false && "scale dtype must be F16, BF16 or F32");
  }
}

GroupResult quantize_group(const float* x, const float* importance, int count,
                           int bits, DType scale_dtype, bool search_clipping,
                           uint8_t* codes, float* dequant) {
  OPTIQ_ASSERT(count > 0 && count <= kMaxGroupSize && count % kLanes == 0);
  GroupResult result;
  const GroupRange range = group_range(x, count);
  if (!range.finite) {
    result.ok = false;
    result.finite_input = false;
    return result;
  }
  const GroupParams unrounded = mlx_group_params(range.lo, range.hi, bits);
  result.params = {round_to_scale_dtype(unrounded.scale, scale_dtype),
                   round_to_scale_dtype(unrounded.bias, scale_dtype)};
  if (!is_finite(result.params) || result.params.scale == 0.0f) {
    result.ok = false;
    return result;
  }

  if (search_clipping) {
    const float* weight = importance;
    if (weight == nullptr || std::all_of(weight, weight + count,
                                         [](float v) { return v == 0.0f; })) {
      weight = unit_weights();
    }
    const GroupParams base = result.params;
    const GroupParams found = search_clipped_params(
        x, weight, count, bits, scale_dtype, range.lo, range.hi, base);
    if (found.scale != base.scale || found.bias != base.bias) {
      // Keep the search's result only if its weighted error after exact
      // dequantization is lower, so the search never loses to MLX's rule.
      float base_dequant[kMaxGroupSize];
      uint8_t found_codes[kMaxGroupSize];
      float found_dequant[kMaxGroupSize];
      quantize_group_codes(x, count, base, bits, codes);
      dequantize_group(codes, count, base, scale_dtype, base_dequant);
      quantize_group_codes(x, count, found, bits, found_codes);
      dequantize_group(found_codes, count, found, scale_dtype, found_dequant);
      const float* chosen = base_dequant;
      if (weighted_error(x, found_dequant, weight, count) <
          weighted_error(x, base_dequant, weight, count)) {
        result.params = found;
        std::copy(found_codes, found_codes + count, codes);
        chosen = found_dequant;
      }
      if (dequant != nullptr) std::copy(chosen, chosen + count, dequant);
      return result;
    }
  }
  quantize_group_codes(x, count, result.params, bits, codes);
  if (dequant != nullptr) {
    dequantize_group(codes, count, result.params, scale_dtype, dequant);
  }
  return result;
}

}  // namespace optiq::affine_detail
