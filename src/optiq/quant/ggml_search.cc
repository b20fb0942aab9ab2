#include "optiq/quant/ggml_search.h"

#include "optiq/core/error.h"

namespace optiq::ggml_internal {
namespace {

constexpr int kMaxGroup = 32;

// Calls body.template operator()<N>() with N = n for n in {16, 32}.
template <typename Body>
void dispatch_size(int n, Body&& body) {
  switch (n) {
    case 16:
      return body.template operator()<16>();
    case 32:
      return body.template operator()<32>();
  }
  fail("internal: unsupported group size {} in a ggml scale search", n);
}

// Returns the element of largest magnitude (the first one on ties) and
// stores its magnitude in *amax.
float signed_max(int n, const float* x, float* amax) {
  float max = 0.0f;
  *amax = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > *amax) {
      *amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  return max;
}

// Scalar helper for search_symmetric: rounds x * iscale to levels in
// [-nmax, nmax - 1] and returns sum(w x l), sum(w l^2).
void symmetric_levels(int n, int nmax, const float* x, const float* w,
                      float iscale, float* l, float* sum_wxl, float* sum_wll) {
  const float lo = static_cast<float>(-nmax);
  const float hi = static_cast<float>(nmax - 1);
  float wxl = 0.0f;
  float wll = 0.0f;
  for (int i = 0; i < n; ++i) {
    l[i] = clamp_level(round_even(iscale * x[i]), lo, hi);
    wxl += w[i] * x[i] * l[i];
    wll += w[i] * l[i] * l[i];
  }
  *sum_wxl = wxl;
  *sum_wll = wll;
}

template <int N>
void symmetric8_impl(int nmax, const Vec8* x, const Vec8* w, Vec8* levels,
                     Vec8* scale_out) {
  const Vec8 zero = splat8(0.0f);
  Vec8 amax = zero;
  Vec8 max = zero;
  for (int i = 0; i < N; ++i) {
    const Vec8 ax = abs8(x[i]);
    const Mask8 larger = ax > amax;
    amax = select8(larger, ax, amax);
    max = select8(larger, x[i], max);
  }
  const Mask8 all_zero = amax < kGroupMaxEps;
  const Vec8 safe_max = select8(all_zero, splat8(1.0f), max);
  const Vec8 lo = splat8(static_cast<float>(-nmax));
  const Vec8 hi = splat8(static_cast<float>(nmax - 1));

  Vec8 l[N];
  Vec8 sum_wxl;
  Vec8 sum_wll;
  auto round_and_sum = [&](float top) {
    const Vec8 iscale = -top / safe_max;
    sum_wxl = zero;
    sum_wll = zero;
    for (int i = 0; i < N; ++i) {
      l[i] = clamp8(round_even8(iscale * x[i]), lo, hi);
      const Vec8 wl = w[i] * l[i];
      sum_wxl += wl * x[i];
      sum_wll += wl * l[i];
    }
  };
  round_and_sum(static_cast<float>(nmax));
  for (int i = 0; i < N; ++i) levels[i] = l[i];
  Vec8 scale = select8(sum_wll > 0.0f, sum_wxl / sum_wll, zero);
  Vec8 best = scale * sum_wxl;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    round_and_sum(static_cast<float>(nmax) + 0.1f * static_cast<float>(step));
    // The fitted scale sum_wxl / sum_wll leaves error sum(w x^2) minus
    // sum_wxl^2 / sum_wll, so a larger ratio is a better candidate.
    const Mask8 better =
        (sum_wll > 0.0f) & (sum_wxl * sum_wxl > best * sum_wll);
    if (!any8(better)) continue;
    for (int i = 0; i < N; ++i) levels[i] = select8(better, l[i], levels[i]);
    const Vec8 fitted = sum_wxl / select8(better, sum_wll, splat8(1.0f));
    scale = select8(better, fitted, scale);
    best = select8(better, fitted * sum_wxl, best);
  }
  for (int i = 0; i < N; ++i) levels[i] = select8(all_zero, zero, levels[i]);
  *scale_out = select8(all_zero, zero, scale);
}

template <int N>
void affine8_impl(int nmax, const Vec8* x, const Vec8* w, float rmin,
                  float rdelta, int nstep, bool use_mad, Vec8* levels,
                  Vec8* scale_out, Vec8* min_out) {
  const Vec8 zero = splat8(0.0f);
  Vec8 min = x[0];
  Vec8 max = x[0];
  Vec8 sum_w = zero;
  Vec8 sum_x = zero;
  for (int i = 0; i < N; ++i) {
    min = min8(min, x[i]);
    max = max8(max, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  min = min8(min, zero);
  const Mask8 flat = max <= min;
  const Vec8 range = select8(flat, splat8(1.0f), max - min);
  const Vec8 top = splat8(static_cast<float>(nmax));
  Vec8 shifted[N];  // x - min, rounded against every candidate scale
  for (int i = 0; i < N; ++i) shifted[i] = x[i] - min;

  Vec8 l[N];
  Vec8 sum_l;
  Vec8 sum_l2;
  Vec8 sum_xl;
  auto round_and_sum = [&](const Vec8& iscale) __attribute__((always_inline)) {
    sum_l = zero;
    sum_l2 = zero;
    sum_xl = zero;
    for (int i = 0; i < N; ++i) {
      l[i] = clamp8(round_even8(iscale * shifted[i]), zero, top);
      const Vec8 wl = w[i] * l[i];
      sum_l += wl;
      sum_l2 += wl * l[i];
      sum_xl += wl * x[i];
    }
  };
  // Error of the values s * l + m less the constant sum(w x^2), or the
  // weighted absolute error for use_mad.
  auto score = [&](const Vec8& s, const Vec8& m)
      __attribute__((always_inline)) {
    if (use_mad) {
      Vec8 acc = zero;
      for (int i = 0; i < N; ++i) acc += w[i] * abs8(s * l[i] + m - x[i]);
      return acc;
    }
    return s * (s * sum_l2 + 2.0f * m * sum_l - 2.0f * sum_xl) +
           m * (m * sum_w - 2.0f * sum_x);
  };

  Vec8 iscale = top / range;
  Vec8 scale = 1.0f / iscale;
  round_and_sum(iscale);
  Vec8 best_error = score(scale, min);
  for (int i = 0; i < N; ++i) levels[i] = l[i];

  for (int step = 0; step <= nstep; ++step) {
    iscale = (rmin + rdelta * static_cast<float>(step) + top) / range;
    round_and_sum(iscale);
    const Vec8 det = sum_w * sum_l2 - sum_l * sum_l;
    const Mask8 solvable = det > 0.0f;
    const Vec8 safe_det = select8(solvable, det, splat8(1.0f));
    Vec8 this_scale = (sum_w * sum_xl - sum_x * sum_l) / safe_det;
    Vec8 this_min = (sum_l2 * sum_x - sum_l * sum_xl) / safe_det;
    // A positive offset is not allowed: refit the scale with m = 0.
    const Mask8 positive = this_min > 0.0f;
    this_scale = select8(
        positive, sum_xl / select8(solvable, sum_l2, splat8(1.0f)), this_scale);
    this_min = select8(positive, zero, this_min);
    const Vec8 error = score(this_scale, this_min);
    const Mask8 better = solvable & (error < best_error);
    if (!any8(better)) continue;
    best_error = select8(better, error, best_error);
    scale = select8(better, this_scale, scale);
    min = select8(better, this_min, min);
    for (int i = 0; i < N; ++i) levels[i] = select8(better, l[i], levels[i]);
  }
  for (int i = 0; i < N; ++i) levels[i] = select8(flat, zero, levels[i]);
  *scale_out = select8(flat, zero, scale);
  *min_out = -min;
}

}  // namespace

float search_symmetric(int n, int nmax, const float* x, const float* w,
                       int8_t* levels) {
  OPTIQ_ASSERT(n <= kMaxGroup);
  float amax = 0.0f;
  const float max = signed_max(n, x, &amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) levels[i] = 0;
    return 0.0f;
  }
  float l[kMaxGroup];
  float best_l[kMaxGroup];
  float sum_wxl = 0.0f;
  float sum_wll = 0.0f;
  symmetric_levels(n, nmax, x, w, -static_cast<float>(nmax) / max, best_l,
                   &sum_wxl, &sum_wll);
  float scale = sum_wll > 0.0f ? sum_wxl / sum_wll : 0.0f;
  float best = scale * sum_wxl;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    const float iscale = -(static_cast<float>(nmax) + 0.1f * step) / max;
    symmetric_levels(n, nmax, x, w, iscale, l, &sum_wxl, &sum_wll);
    if (sum_wll > 0.0f && sum_wxl * sum_wxl > best * sum_wll) {
      std::copy(l, l + n, best_l);
      scale = sum_wxl / sum_wll;
      best = scale * sum_wxl;
    }
  }
  for (int i = 0; i < n; ++i) {
    levels[i] = static_cast<int8_t>(best_l[i] + static_cast<float>(nmax));
  }
  return scale;
}

void search_symmetric8(int n, int nmax, const Vec8* x, const Vec8* w,
                       Vec8* levels, Vec8* scale) {
  dispatch_size(
      n, [&]<int N>() { symmetric8_impl<N>(nmax, x, w, levels, scale); });
}

float search_symmetric_q3(int n, int nmax, const float* x, int8_t* levels) {
  OPTIQ_ASSERT(n <= kMaxGroup);
  float amax = 0.0f;
  const float max = signed_max(n, x, &amax);
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) levels[i] = 0;
    return 0.0f;
  }
  float w[kMaxGroup];
  float l[kMaxGroup];
  for (int i = 0; i < n; ++i) w[i] = x[i] * x[i];
  float sum_wxl = 0.0f;
  float sum_wll = 0.0f;
  symmetric_levels(n, nmax, x, w, -static_cast<float>(nmax) / max, l, &sum_wxl,
                   &sum_wll);

  const float lo = static_cast<float>(-nmax);
  const float hi = static_cast<float>(nmax - 1);
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      // Move l_i to its best level for the scale fitted to the others.
      float others_wxl = sum_wxl - w[i] * x[i] * l[i];
      if (others_wxl <= 0.0f) continue;
      float others_wll = sum_wll - w[i] * l[i] * l[i];
      const float new_l =
          clamp_level(round_even(x[i] * others_wll / others_wxl), lo, hi);
      if (new_l == l[i]) continue;
      others_wxl += w[i] * x[i] * new_l;
      others_wll += w[i] * new_l * new_l;
      if (others_wll > 0.0f &&
          others_wxl * others_wxl * sum_wll > sum_wxl * sum_wxl * others_wll) {
        l[i] = new_l;
        sum_wxl = others_wxl;
        sum_wll = others_wll;
        ++changed;
      }
    }
    if (changed == 0) break;
  }

  for (int i = 0; i < n; ++i) levels[i] = static_cast<int8_t>(l[i] + nmax);
  return sum_wll > 0.0f ? sum_wxl / sum_wll : 0.0f;
}

void search_affine8(int n, int nmax, const Vec8* x, const Vec8* w, float rmin,
                    float rdelta, int nstep, bool use_mad, Vec8* levels,
                    Vec8* scale, Vec8* min) {
  dispatch_size(n, [&]<int N>() {
    affine8_impl<N>(nmax, x, w, rmin, rdelta, nstep, use_mad, levels, scale,
                    min);
  });
}

float search_positive(int n, int nmax, const float* x, const float* w,
                      uint8_t* levels) {
  OPTIQ_ASSERT(n <= 16);
  float max = 0.0f;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) levels[i] = 0;
    return 0.0f;
  }
  const float top = static_cast<float>(nmax);
  auto weighted_mse = [&](float iscale) {
    const float scale = 1.0f / iscale;
    float mse = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float l = clamp_level(round_even(iscale * x[i]), 0.0f, top);
      const float diff = x[i] - scale * l;
      mse += w[i] * diff * diff;
    }
    return mse;
  };
  float iscale = top / max;
  float best_mse = weighted_mse(iscale);
  for (int step = -4; step <= 4; ++step) {
    if (step == 0) continue;
    const float candidate = (0.1f * static_cast<float>(step) + top) / max;
    const float mse = weighted_mse(candidate);
    if (mse < best_mse) {
      best_mse = mse;
      iscale = candidate;
    }
  }
  float l[16];
  float sum_wxl = 0.0f;
  float sum_wll = 0.0f;
  for (int i = 0; i < n; ++i) {
    l[i] = clamp_level(round_even(iscale * x[i]), 0.0f, top);
    sum_wxl += w[i] * x[i] * l[i];
    sum_wll += w[i] * l[i] * l[i];
  }
  // Coordinate descent: move single levels to where they raise
  // sum(w x l)^2 / sum(w l^2).
  for (int pass = 0; pass < 5; ++pass) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      float others_wxl = sum_wxl - w[i] * x[i] * l[i];
      float others_wll = sum_wll - w[i] * l[i] * l[i];
      if (!(others_wxl > 0.0f && others_wll > 0.0f)) continue;
      const float new_l =
          clamp_level(round_even(x[i] * others_wll / others_wxl), 0.0f, top);
      if (new_l == l[i]) continue;
      others_wxl += w[i] * x[i] * new_l;
      others_wll += w[i] * new_l * new_l;
      if (others_wxl * others_wxl * sum_wll > sum_wxl * sum_wxl * others_wll) {
        l[i] = new_l;
        sum_wxl = others_wxl;
        sum_wll = others_wll;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) levels[i] = static_cast<uint8_t>(l[i]);
  return sum_wll > 0.0f ? sum_wxl / sum_wll : 0.0f;
}

}  // namespace optiq::ggml_internal
