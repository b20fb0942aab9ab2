// Refinement of k-quant super-blocks after llama.cpp's scale search.
// Internal to optiq_quant_ggml.
//
// llama.cpp picks each sub-block's scale (and min) in float, then rounds
// them to 4-, 6- or 8-bit codes against one F16 super-block scale, and never
// revisits the rounding. The refinement below scores the encoded block,
// sum_i w_i (x_i - dequant_i)^2 with each level the nearest one, and
// alternates two moves that are kept only when that score drops:
//   1. each sub-block tries the neighbouring integer codes of its scale
//      (and min);
//   2. the F16 super-block scale(s) are refitted by weighted least squares
//      to the current codes and levels, then rounded to F16.
// The score never rises, so the result is at least as good as the start.
//
// Sub-blocks sit in SIMD lanes (ggml_simd.h): sub-block 8 g + j is lane j of
// group g, and x[g][i] is its element i.
#pragma once

#include "optiq/quant/ggml_simd.h"

namespace optiq::ggml_internal {

// Q2_K / Q4_K / Q5_K: x = (d * sc_j) * q - (dmin * m_j), q in [0, nmax],
// sc_j and m_j in [0, code_max].
struct AffineSuperBlock {
  int groups = 0;     // 2 for Q2_K (16 sub-blocks of 16), 1 for Q4_K, Q5_K
  int sub_size = 0;   // 16 or 32
  int nmax = 0;       // 3, 15 or 31
  int code_max = 0;   // 15 or 63
  float d = 0.0f;     // F16-representable
  float dmin = 0.0f;  // F16-representable
  Vec8 x[2][32];      // input
  Vec8 w[2][32];      // objective weights
  Vec8 sc[2];         // scale codes
  Vec8 m[2];          // min codes
  Vec8 q[2][32];      // levels, set by refine_affine
};

// Q3_K / Q6_K: x = (d * sc_j) * q, q in [qmin, qmax], sc_j in
// [code_min, code_max]; 16 sub-blocks of 16.
struct SymmetricSuperBlock {
  int qmin = 0;      // -4 for Q3_K, -32 for Q6_K
  int qmax = 0;      // 3 or 31
  int code_min = 0;  // -32 or -128
  int code_max = 0;  // 31 or 127
  float d = 0.0f;    // F16-representable
  Vec8 x[2][16];
  Vec8 w[2][16];
  Vec8 sc[2];
  Vec8 q[2][16];  // levels, set by refine_symmetric
};

// Sets every level to the nearest one for the current scales, then runs the
// refinement for at most `rounds` rounds, stopping early when a round
// changes nothing. Weights must be non-negative. Returns the final score.
float refine_affine(int rounds, AffineSuperBlock& b);
float refine_symmetric(int rounds, SymmetricSuperBlock& b);

}  // namespace optiq::ggml_internal
