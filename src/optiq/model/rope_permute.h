// Row permutation of q/k projections between RoPE layouts.
#pragma once

#include <cstdint>
#include <vector>

namespace optiq {

// Reorders the rows of a q or k projection [heads·head_dim, cols] from
// interleaved RoPE pairs (2i, 2i+1), as llama2.c and GGUF store them, to
// Hugging Face's halves (i, i + d/2), head by head: new row h·d + s·d/2 + i
// takes old row h·d + 2i + s (s ∈ {0, 1}).
std::vector<float> interleaved_to_halves(const std::vector<float>& weights, int64_t rows,
                                         int64_t cols, int64_t heads);

// The inverse of interleaved_to_halves.
std::vector<float> halves_to_interleaved(const std::vector<float>& weights, int64_t rows,
                                         int64_t cols, int64_t heads);

}  // namespace optiq
