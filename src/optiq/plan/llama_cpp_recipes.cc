#include "optiq/plan/llama_cpp_recipes.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace optiq {
namespace {

bool use_more_bits(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 ||
         (layer - n_layers / 8) % 3 == 2;
}

GgmlType base_type(LlamaCppRecipe recipe) {
  switch (recipe) {
    case LlamaCppRecipe::kQ2_K:
      return GgmlType::Q2_K;
    case LlamaCppRecipe::kQ3_K_M:
      return GgmlType::Q3_K;
    case LlamaCppRecipe::kQ4_K_M:
      return GgmlType::Q4_K;
    case LlamaCppRecipe::kQ5_K_M:
      return GgmlType::Q5_K;
  }
  return GgmlType::Q4_K;
}

GgmlType value_type(LlamaCppRecipe recipe, int64_t layer,
                    const RecipeModelShape& shape) {
  switch (recipe) {
    case LlamaCppRecipe::kQ2_K:
      return shape.n_gqa >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
    case LlamaCppRecipe::kQ3_K_M:
      return layer < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
    case LlamaCppRecipe::kQ4_K_M:
    case LlamaCppRecipe::kQ5_K_M:
      return use_more_bits(layer, shape.n_layers) ? GgmlType::Q6_K
                                                  : base_type(recipe);
  }
  return base_type(recipe);
}

GgmlType down_type(LlamaCppRecipe recipe, int64_t layer,
                   const RecipeModelShape& shape) {
  switch (recipe) {
    case LlamaCppRecipe::kQ2_K:
      return GgmlType::Q3_K;
    case LlamaCppRecipe::kQ3_K_M:
      return layer < shape.n_layers / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
    case LlamaCppRecipe::kQ4_K_M:
    case LlamaCppRecipe::kQ5_K_M:
      return use_more_bits(layer, shape.n_layers) ? GgmlType::Q6_K
                                                  : base_type(recipe);
  }
  return base_type(recipe);
}

GgmlType attention_output_type(LlamaCppRecipe recipe) {
  switch (recipe) {
    case LlamaCppRecipe::kQ2_K:
      return GgmlType::Q3_K;
    case LlamaCppRecipe::kQ3_K_M:
      return GgmlType::Q4_K;
    default:
      return base_type(recipe);
  }
}

}  // namespace

const std::vector<LlamaCppRecipe>& llama_cpp_recipes() {
  static const std::vector<LlamaCppRecipe> all = {
      LlamaCppRecipe::kQ2_K, LlamaCppRecipe::kQ3_K_M, LlamaCppRecipe::kQ4_K_M,
      LlamaCppRecipe::kQ5_K_M};
  return all;
}

std::string_view recipe_name(LlamaCppRecipe recipe) {
  switch (recipe) {
    case LlamaCppRecipe::kQ2_K:
      return "Q2_K";
    case LlamaCppRecipe::kQ3_K_M:
      return "Q3_K_M";
    case LlamaCppRecipe::kQ4_K_M:
      return "Q4_K_M";
    case LlamaCppRecipe::kQ5_K_M:
      return "Q5_K_M";
  }
  return "?";
}

std::optional<LlamaCppRecipe> parse_llama_cpp_recipe(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) {
    return static_cast<char>(std::toupper(c));
  });
  for (LlamaCppRecipe recipe : llama_cpp_recipes()) {
    if (upper == recipe_name(recipe)) return recipe;
  }
  return std::nullopt;
}

GgmlType recipe_type(LlamaCppRecipe recipe, const ProfileTarget& target,
                     const RecipeModelShape& shape) {
  switch (target.kind) {
    case ProfileTarget::Kind::kOutput:
      return GgmlType::Q6_K;
    case ProfileTarget::Kind::kEmbedding:
      return base_type(recipe);
    case ProfileTarget::Kind::kProjection:
      break;
  }
  switch (target.projection) {
    case Projection::kV:
      return value_type(recipe, target.layer, shape);
    case Projection::kDown:
      return down_type(recipe, target.layer, shape);
    case Projection::kO:
      return attention_output_type(recipe);
    default:
      return base_type(recipe);
  }
}

RecipeModelShape recipe_shape(const std::vector<TensorProfile>& tensors) {
  RecipeModelShape shape;
  int64_t q_rows = 0, k_rows = 0;
  for (const TensorProfile& t : tensors) {
    if (t.target.kind != ProfileTarget::Kind::kProjection) continue;
    shape.n_layers = std::max(shape.n_layers, t.target.layer + 1);
    if (t.target.layer != 0) continue;
    if (t.target.projection == Projection::kQ) q_rows = t.target.rows;
    if (t.target.projection == Projection::kK) k_rows = t.target.rows;
  }
  if (q_rows > 0 && k_rows > 0) shape.n_gqa = std::max<int64_t>(q_rows / k_rows, 1);
  return shape;
}

}  // namespace optiq
