// llama.cpp's fixed quantization mixes ("recipes" such as Q4_K_M): the ggml
// type its quantize tool gives each weight tensor, as the baselines a mixed
// plan is compared with at equal file size.
//
// Followed: llama.cpp src/llama-quant.cpp, llama_tensor_get_type, at commit
// c392e509 (2025-02-20), for dense models (no experts) without a 70B-only
// rule. "More-bits" layers are i < n/8, i >= 7n/8 and (i - n/8) % 3 == 2.
//
//   recipe   base  attn_v                   ffn_down                attn_output output
//   Q2_K     Q2_K  Q4_K if n_gqa >= 4,      Q3_K                    Q3_K        Q6_K
//                  else Q3_K
//   Q3_K_M   Q3_K  Q5_K in layers 0-1,      Q5_K for i < n/16,      Q4_K        Q6_K
//                  else Q4_K                else Q4_K
//   Q4_K_M   Q4_K  Q6_K in more-bits layers Q6_K in more-bits layers Q4_K       Q6_K
//   Q5_K_M   Q5_K  Q6_K in more-bits layers Q6_K in more-bits layers Q5_K       Q6_K
//
// The token embedding, attn_q, attn_k, ffn_gate and ffn_up keep the base
// type. A tied embedding is the output and gets the output's type. Rows
// whose length is not a multiple of the block size then fall back to
// ggml_fallback_type.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "optiq/profile/profiler.h"
#include "optiq/quant/ggml_quant.h"

namespace optiq {

enum class LlamaCppRecipe { kQ2_K, kQ3_K_M, kQ4_K_M, kQ5_K_M };

// All recipes, smallest first.
const std::vector<LlamaCppRecipe>& llama_cpp_recipes();
std::string_view recipe_name(LlamaCppRecipe recipe);
// Parses "Q4_K_M" and the like, ignoring case.
std::optional<LlamaCppRecipe> parse_llama_cpp_recipe(std::string_view name);

// The shape facts a recipe depends on.
struct RecipeModelShape {
  int64_t n_layers = 0;
  int64_t n_gqa = 1;  // query heads per key/value head
};

// Returns the type the recipe gives `target`, before the block-size
// fallback.
GgmlType recipe_type(LlamaCppRecipe recipe, const ProfileTarget& target,
                     const RecipeModelShape& shape);

// The layer count and grouping of a profiled model, from its targets'
// layers and the q and k projections' row counts.
RecipeModelShape recipe_shape(const std::vector<TensorProfile>& tensors);

}  // namespace optiq
