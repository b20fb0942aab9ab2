// Scores use the dequantizer's arithmetic, (d * sc) * q - (dmin * m) with
// every operation rounded, so contraction into FMA is off here as in
// ggml_dequantize.cc.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "optiq/quant/ggml_refine.h"

#include <cmath>

#include "optiq/core/error.h"
#include "optiq/quant/ggml_blocks.h"

namespace optiq::ggml_internal {
namespace {

// Every level is the nearest one for its sub-block's scale (and min): the
// error is a sum of independent per-element terms, so that minimises it. A
// zero scale maps every element to level 0.

// Per-lane error of affine sub-blocks of N elements whose values are
// scale * q - min.
template <int N>
[[gnu::always_inline]] inline Vec8 affine_error(const Vec8* x, const Vec8* w,
                                                const Vec8& scale,
                                                const Vec8& min,
                                                const Vec8& top) {
  const Vec8 inv = inverse_or_zero8(scale);
  const Vec8 zero = splat8(0.0f);
  Vec8 acc = zero;
  for (int i = 0; i < N; ++i) {
    const Vec8 l = clamp8(round_even8((x[i] + min) * inv), zero, top);
    const Vec8 r = scale * l - min - x[i];
    acc += w[i] * r * r;
  }
  return acc;
}

template <int N>
void affine_levels(const Vec8* x, const Vec8& scale, const Vec8& min,
                   const Vec8& top, Vec8* q) {
  const Vec8 inv = inverse_or_zero8(scale);
  for (int i = 0; i < N; ++i) {
    q[i] = clamp8(round_even8((x[i] + min) * inv), splat8(0.0f), top);
  }
}

// Per-lane error of symmetric sub-blocks of 16 whose values are scale * q.
[[gnu::always_inline]] inline Vec8 symmetric_error(const Vec8* x, const Vec8* w,
                                                   const Vec8& scale,
                                                   const Vec8& lo,
                                                   const Vec8& hi) {
  const Vec8 inv = inverse_or_zero8(scale);
  Vec8 acc = splat8(0.0f);
  for (int i = 0; i < 16; ++i) {
    const Vec8 l = clamp8(round_even8(x[i] * inv), lo, hi);
    const Vec8 r = scale * l - x[i];
    acc += w[i] * r * r;
  }
  return acc;
}

void symmetric_levels(const Vec8* x, const Vec8& scale, const Vec8& lo,
                      const Vec8& hi, Vec8* q) {
  const Vec8 inv = inverse_or_zero8(scale);
  for (int i = 0; i < 16; ++i) q[i] = clamp8(round_even8(x[i] * inv), lo, hi);
}

float total(const Vec8* error, int groups) {
  float sum = 0.0f;
  for (int g = 0; g < groups; ++g) sum += sum8(error[g]);
  return sum;
}

// F16 values adjacent to `value` (itself F16-representable), skipping
// infinities and sign changes. Returns how many were written to `out`.
int f16_neighbours(float value, float* out) {
  const uint16_t bits = float_to_f16(value);
  int count = 0;
  for (int delta : {-1, 1}) {
    const int candidate = static_cast<int>(bits & 0x7fff) + delta;
    if (candidate < 0 || candidate >= 0x7c00) continue;
    const uint16_t neighbour =
        static_cast<uint16_t>((bits & 0x8000) | candidate);
    out[count++] = f16_to_float(neighbour);
  }
  return count;
}

Mask8 within(const Vec8& v, float lo, float hi) {
  return (v >= lo) & (v <= hi);
}

// Move 1 for affine blocks: the eight neighbouring (sc, m) code pairs of
// every sub-block.
template <int N>
bool search_affine_codes(AffineSuperBlock& b, Vec8* error) {
  const Vec8 top = splat8(static_cast<float>(b.nmax));
  const float code_max = static_cast<float>(b.code_max);
  bool changed = false;
  for (int g = 0; g < b.groups; ++g) {
    Vec8 best_sc = b.sc[g];
    Vec8 best_m = b.m[g];
    for (int dsc = -1; dsc <= 1; ++dsc) {
      for (int dm = -1; dm <= 1; ++dm) {
        if (dsc == 0 && dm == 0) continue;
        const Vec8 sc = b.sc[g] + static_cast<float>(dsc);
        const Vec8 m = b.m[g] + static_cast<float>(dm);
        const Vec8 e =
            affine_error<N>(b.x[g], b.w[g], b.d * sc, b.dmin * m, top);
        const Mask8 better = within(sc, 0.0f, code_max) &
                             within(m, 0.0f, code_max) & (e < error[g]);
        error[g] = select8(better, e, error[g]);
        best_sc = select8(better, sc, best_sc);
        best_m = select8(better, m, best_m);
      }
    }
    if (any8((best_sc != b.sc[g]) | (best_m != b.m[g]))) {
      b.sc[g] = best_sc;
      b.m[g] = best_m;
      affine_levels<N>(b.x[g], b.d * best_sc, b.dmin * best_m, top, b.q[g]);
      changed = true;
    }
  }
  return changed;
}

// Move 2 for affine blocks: least-squares (d, dmin) for the current codes
// and levels, x ~ d * (sc q) - dmin * m, rounded to F16.
template <int N>
bool refit_affine_scales(AffineSuperBlock& b, Vec8* error) {
  Vec8 saa = splat8(0.0f), sab = saa, sbb = saa, sax = saa, sbx = saa;
  for (int g = 0; g < b.groups; ++g) {
    for (int i = 0; i < N; ++i) {
      const Vec8 a = b.sc[g] * b.q[g][i];
      const Vec8 wa = b.w[g][i] * a;
      const Vec8 wm = b.w[g][i] * b.m[g];
      saa += wa * a;
      sab += wa * b.m[g];
      sbb += wm * b.m[g];
      sax += wa * b.x[g][i];
      sbx += wm * b.x[g][i];
    }
  }

  const double s_aa = sum8(saa), s_ab = sum8(sab), s_bb = sum8(sbb);
  const double s_ax = sum8(sax), s_bx = sum8(sbx);
  const double det = s_aa * s_bb - s_ab * s_ab;
  double d = b.d;
  double dmin = b.dmin;
  if (det > 1e-9 * s_aa * s_bb && det > 0) {
    d = (s_ax * s_bb - s_ab * s_bx) / det;
    dmin = (s_ab * s_ax - s_aa * s_bx) / det;
  } else if (s_aa > 0) {  // mins unused or collinear: fit d alone
    d = (s_ax + dmin * s_ab) / s_aa;
  } else {
    return false;
  }

  const float new_d = round_to_f16(static_cast<float>(d));
  const float new_dmin = round_to_f16(static_cast<float>(dmin));
  if (!std::isfinite(new_d) || !std::isfinite(new_dmin) ||
      (new_d == b.d && new_dmin == b.dmin)) {
    return false;
  }

  const Vec8 top = splat8(static_cast<float>(b.nmax));
  Vec8 trial[2];
  for (int g = 0; g < b.groups; ++g) {
    trial[g] = affine_error<N>(b.x[g], b.w[g], new_d * b.sc[g],
                               new_dmin * b.m[g], top);
  }
  if (!(total(trial, b.groups) < total(error, b.groups))) return false;

  b.d = new_d;
  b.dmin = new_dmin;
  for (int g = 0; g < b.groups; ++g) {
    error[g] = trial[g];
    affine_levels<N>(b.x[g], new_d * b.sc[g], new_dmin * b.m[g], top, b.q[g]);
  }
  return true;
}

template <int N>
float refine_affine_impl(int rounds, AffineSuperBlock& b) {
  const Vec8 top = splat8(static_cast<float>(b.nmax));
  Vec8 error[2];
  for (int g = 0; g < b.groups; ++g) {
    const Vec8 scale = b.d * b.sc[g];
    const Vec8 min = b.dmin * b.m[g];
    error[g] = affine_error<N>(b.x[g], b.w[g], scale, min, top);
    affine_levels<N>(b.x[g], scale, min, top, b.q[g]);
  }
  for (int round = 0; round < rounds; ++round) {
    const bool codes_changed = search_affine_codes<N>(b, error);
    const bool scales_changed = refit_affine_scales<N>(b, error);
    if (!codes_changed && !scales_changed) break;
  }
  return total(error, b.groups);
}

// Move 1 for symmetric blocks: scale codes within 2 of the current one.
bool search_symmetric_codes(SymmetricSuperBlock& b, Vec8* error) {
  const Vec8 lo = splat8(static_cast<float>(b.qmin));
  const Vec8 hi = splat8(static_cast<float>(b.qmax));
  bool changed = false;
  for (int g = 0; g < 2; ++g) {
    Vec8 best_sc = b.sc[g];
    for (int delta : {-2, -1, 1, 2}) {
      const Vec8 sc = b.sc[g] + static_cast<float>(delta);
      const Vec8 e = symmetric_error(b.x[g], b.w[g], b.d * sc, lo, hi);
      const Mask8 better = within(sc, static_cast<float>(b.code_min),
                                  static_cast<float>(b.code_max)) &
                           (e < error[g]);
      error[g] = select8(better, e, error[g]);
      best_sc = select8(better, sc, best_sc);
    }
    if (any8(best_sc != b.sc[g])) {
      b.sc[g] = best_sc;
      symmetric_levels(b.x[g], b.d * best_sc, lo, hi, b.q[g]);
      changed = true;
    }
  }
  return changed;
}

// Move 2 for symmetric blocks: least-squares d for the current codes and
// levels, rounded to F16, and the two adjacent F16 values.
bool refit_symmetric_scale(SymmetricSuperBlock& b, Vec8* error) {
  Vec8 saa = splat8(0.0f);
  Vec8 sax = saa;
  for (int g = 0; g < 2; ++g) {
    for (int i = 0; i < 16; ++i) {
      const Vec8 wa = b.w[g][i] * b.sc[g] * b.q[g][i];
      saa += wa * b.sc[g] * b.q[g][i];
      sax += wa * b.x[g][i];
    }
  }

  const double s_aa = sum8(saa);
  const double s_ax = sum8(sax);
  if (!(s_aa > 0)) return false;
  float candidates[3];
  candidates[0] = round_to_f16(static_cast<float>(s_ax / s_aa));
  if (!std::isfinite(candidates[0])) return false;
  const int count = 1 + f16_neighbours(candidates[0], candidates + 1);

  const Vec8 lo = splat8(static_cast<float>(b.qmin));
  const Vec8 hi = splat8(static_cast<float>(b.qmax));
  float best_total = total(error, 2);
  float best_d = b.d;
  for (int c = 0; c < count; ++c) {
    const float d = candidates[c];
    if (d == b.d) continue;
    Vec8 trial[2];
    for (int g = 0; g < 2; ++g) {
      trial[g] = symmetric_error(b.x[g], b.w[g], d * b.sc[g], lo, hi);
    }
    if (total(trial, 2) < best_total) {
      best_total = total(trial, 2);
      best_d = d;
      error[0] = trial[0];
      error[1] = trial[1];
    }
  }
  if (best_d == b.d) return false;

  b.d = best_d;
  for (int g = 0; g < 2; ++g) {
    symmetric_levels(b.x[g], best_d * b.sc[g], lo, hi, b.q[g]);
  }
  return true;
}

}  // namespace

float refine_affine(int rounds, AffineSuperBlock& b) {
  OPTIQ_ASSERT(b.sub_size == 16 || b.sub_size == 32);
  return b.sub_size == 16 ? refine_affine_impl<16>(rounds, b)
                          : refine_affine_impl<32>(rounds, b);
}

float refine_symmetric(int rounds, SymmetricSuperBlock& b) {
  const Vec8 lo = splat8(static_cast<float>(b.qmin));
  const Vec8 hi = splat8(static_cast<float>(b.qmax));
  Vec8 error[2];
  for (int g = 0; g < 2; ++g) {
    const Vec8 scale = b.d * b.sc[g];
    error[g] = symmetric_error(b.x[g], b.w[g], scale, lo, hi);
    symmetric_levels(b.x[g], scale, lo, hi, b.q[g]);
  }
  for (int round = 0; round < rounds; ++round) {
    const bool codes_changed = search_symmetric_codes(b, error);
    const bool scale_changed = refit_symmetric_scale(b, error);
    if (!codes_changed && !scale_changed) break;
  }
  return total(error, 2);
}

}  // namespace optiq::ggml_internal
