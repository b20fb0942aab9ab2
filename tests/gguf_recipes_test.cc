// llama.cpp's recipe mixes, checked against its llama_tensor_get_type rules
// worked out by hand for a 32-layer and a 6-layer model.
#include <gtest/gtest.h>

#include <set>

#include "optiq/plan/llama_cpp_recipes.h"

namespace optiq {
namespace {

ProfileTarget projection(int64_t layer, Projection p) {
  ProfileTarget t;
  t.kind = ProfileTarget::Kind::kProjection;
  t.layer = layer;
  t.projection = p;
  return t;
}

// Layers of an n-layer model whose attn_v / ffn_down get `type`.
std::set<int64_t> layers_with(LlamaCppRecipe recipe, Projection p, GgmlType type,
                              const RecipeModelShape& shape) {
  std::set<int64_t> layers;
  for (int64_t l = 0; l < shape.n_layers; ++l) {
    if (recipe_type(recipe, projection(l, p), shape) == type) layers.insert(l);
  }
  return layers;
}

TEST(LlamaCppRecipes, NamesRoundTrip) {
  for (LlamaCppRecipe recipe : llama_cpp_recipes()) {
    EXPECT_EQ(parse_llama_cpp_recipe(recipe_name(recipe)), recipe);
  }
  EXPECT_EQ(parse_llama_cpp_recipe("q4_k_m"), LlamaCppRecipe::kQ4_K_M);
  EXPECT_FALSE(parse_llama_cpp_recipe("Q4_K_S").has_value());
  EXPECT_FALSE(parse_llama_cpp_recipe("4bpw").has_value());
}

TEST(LlamaCppRecipes, Q4_K_MMoreBitsLayersOf32) {
  // use_more_bits(i, 32): i < 4, i >= 28, or (i - 4) % 3 == 2.
  const std::set<int64_t> expected = {0,  1,  2,  3,  6,  9,  12, 15, 18,
                                      21, 24, 27, 28, 29, 30, 31};
  const RecipeModelShape shape{32, 4};
  EXPECT_EQ(layers_with(LlamaCppRecipe::kQ4_K_M, Projection::kV, GgmlType::Q6_K, shape),
            expected);
  EXPECT_EQ(layers_with(LlamaCppRecipe::kQ4_K_M, Projection::kDown, GgmlType::Q6_K, shape),
            expected);
  EXPECT_EQ(layers_with(LlamaCppRecipe::kQ5_K_M, Projection::kDown, GgmlType::Q6_K, shape),
            expected);
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ4_K_M, projection(5, Projection::kV), shape),
            GgmlType::Q4_K);
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ5_K_M, projection(5, Projection::kV), shape),
            GgmlType::Q5_K);
  for (Projection p : {Projection::kQ, Projection::kK, Projection::kO, Projection::kGate,
                       Projection::kUp}) {
    EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ4_K_M, projection(0, p), shape), GgmlType::Q4_K);
  }
}

TEST(LlamaCppRecipes, Q4_K_MMoreBitsLayersOf6) {
  // n/8 = 0 and 7n/8 = 5: layers 5, and (i - 0) % 3 == 2: 2 and 5.
  const RecipeModelShape shape{6, 2};
  EXPECT_EQ(layers_with(LlamaCppRecipe::kQ4_K_M, Projection::kV, GgmlType::Q6_K, shape),
            (std::set<int64_t>{2, 5}));
}

TEST(LlamaCppRecipes, Q3_K_M) {
  const RecipeModelShape shape{32, 4};
  EXPECT_EQ(layers_with(LlamaCppRecipe::kQ3_K_M, Projection::kV, GgmlType::Q5_K, shape),
            (std::set<int64_t>{0, 1}));
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ3_K_M, projection(2, Projection::kV), shape),
            GgmlType::Q4_K);
  // ffn_down: Q5_K for i < 32/16 = 2, Q4_K after (non-Falcon).
  EXPECT_EQ(layers_with(LlamaCppRecipe::kQ3_K_M, Projection::kDown, GgmlType::Q5_K, shape),
            (std::set<int64_t>{0, 1}));
  EXPECT_EQ(layers_with(LlamaCppRecipe::kQ3_K_M, Projection::kDown, GgmlType::Q4_K, shape).size(),
            30u);
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ3_K_M, projection(7, Projection::kO), shape),
            GgmlType::Q4_K);
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ3_K_M, projection(7, Projection::kUp), shape),
            GgmlType::Q3_K);
}

TEST(LlamaCppRecipes, Q2_KDependsOnGrouping) {
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ2_K, projection(3, Projection::kV), {32, 4}),
            GgmlType::Q4_K);
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ2_K, projection(3, Projection::kV), {32, 2}),
            GgmlType::Q3_K);
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ2_K, projection(3, Projection::kDown), {32, 2}),
            GgmlType::Q3_K);
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ2_K, projection(3, Projection::kO), {32, 2}),
            GgmlType::Q3_K);
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ2_K, projection(3, Projection::kGate), {32, 2}),
            GgmlType::Q2_K);
}

TEST(LlamaCppRecipes, OutputAndEmbedding) {
  ProfileTarget output;
  output.kind = ProfileTarget::Kind::kOutput;
  ProfileTarget embedding;
  embedding.kind = ProfileTarget::Kind::kEmbedding;
  for (LlamaCppRecipe recipe : llama_cpp_recipes()) {
    EXPECT_EQ(recipe_type(recipe, output, {32, 4}), GgmlType::Q6_K);
  }
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ3_K_M, embedding, {32, 4}), GgmlType::Q3_K);
  EXPECT_EQ(recipe_type(LlamaCppRecipe::kQ5_K_M, embedding, {32, 4}), GgmlType::Q5_K);
}

}  // namespace
}  // namespace optiq
