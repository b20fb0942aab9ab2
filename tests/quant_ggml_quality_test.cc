// Quantization quality: exact round trips of representable blocks, error
// below llama.cpp's quantizers on the same inputs, the effect of
// importance, and determinism.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "optiq/core/dtype.h"
#include "optiq/core/parallel.h"
#include "optiq/io/safetensors.h"
#include "quant_ggml_test_util.h"
#include "test_support.h"

namespace optiq {
namespace {

using ggml_test::gaussian;
using ggml_test::relative_rmse;
using ggml_test::round_trip;
using ggml_test::skewed_importance;

void expect_exact_round_trip(GgmlType type, const std::vector<float>& x) {
  const std::vector<float> y = round_trip(type, x);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(y[i], x[i]) << ggml_type_name(type) << " element " << i;
  }
}

// Rows of two blocks whose values the type stores exactly. Each block uses
// the full level range so that llama.cpp's starting scale is already exact.

TEST(GgmlRoundTrip, FloatTypesExact) {
  expect_exact_round_trip(GgmlType::F32, {1.0f, -3.25e-20f, 7.0e30f});
  expect_exact_round_trip(GgmlType::F16, {1.0f, -0.5f, 65504.0f, 0x1p-24f});
  expect_exact_round_trip(GgmlType::BF16, {1.0f, -3.140625f, 0x1p100f});
}

TEST(GgmlRoundTrip, Q8_0Exact) {
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) {
    const float d = i < 32 ? 0x1p-6f : 0x1p+3f;
    x[i] = d * static_cast<float>((37 * i) % 255 - 127);  // q = -127 at i = 0
  }
  x[32] = -127.0f * 0x1p+3f;
  expect_exact_round_trip(GgmlType::Q8_0, x);
}

TEST(GgmlRoundTrip, Q4_0AndQ5_0Exact) {
  for (int bits : {4, 5}) {
    const int half = 1 << (bits - 1);  // 8 or 16
    std::vector<float> x(64);
    for (int i = 0; i < 64; ++i) {
      const float d = i < 32 ? 0.125f : 3.0f;
      // Level -half (the largest magnitude) at i % 32 == 0.
      x[i] = d * static_cast<float>((5 * (i % 32)) % (2 * half) - half);
    }
    expect_exact_round_trip(bits == 4 ? GgmlType::Q4_0 : GgmlType::Q5_0, x);
  }
}

TEST(GgmlRoundTrip, Q4_1AndQ5_1Exact) {
  for (int bits : {4, 5}) {
    const int top = (1 << bits) - 1;
    std::vector<float> x(64);
    for (int i = 0; i < 64; ++i) {
      const float d = i < 32 ? 0.25f : 0.125f;
      const float m = i < 32 ? -2.0f : 1.0f;
      // 7 is odd, so the 32 levels (7 i) mod 2^bits include 0 and top.
      x[i] = d * static_cast<float>((7 * (i % 32)) % (top + 1)) + m;
    }
    expect_exact_round_trip(bits == 4 ? GgmlType::Q4_1 : GgmlType::Q5_1, x);
  }
}

// Affine k-quant row: x = (d * sc_j) * q - dmin * m_j where every sub-block
// contains all levels 0..nmax and the largest codes equal code_max.
std::vector<float> affine_k_row(int sub_size, int nmax, int code_max) {
  std::vector<float> x(512);
  const float d = 0x1p-6f;
  const float dmin = 0x1p-7f;
  for (int e = 0; e < 512; ++e) {
    const int j = (e % 256) / sub_size;
    const int sc = j == 0 ? code_max : 1 + (5 * j) % code_max;
    const int m = j == 1 ? code_max : (3 * j + e / 256) % (code_max + 1);
    const int q = (7 * e + 3) % (nmax + 1);
    x[e] = d * static_cast<float>(sc) * static_cast<float>(q) -
           dmin * static_cast<float>(m);
  }
  return x;
}

TEST(GgmlRoundTrip, AffineKQuantsExact) {
  expect_exact_round_trip(GgmlType::Q2_K, affine_k_row(16, 3, 15));
  expect_exact_round_trip(GgmlType::Q4_K, affine_k_row(32, 15, 63));
  expect_exact_round_trip(GgmlType::Q5_K, affine_k_row(32, 31, 63));
}

// Symmetric k-quant row: x = (d * sc_j) * q; sub-block 0 has the code of
// largest magnitude, code_min, and every sub-block contains level qmin.
std::vector<float> symmetric_k_row(int qmin, int code_min) {
  std::vector<float> x(512);
  const float d = 0x1p-8f;
  for (int e = 0; e < 512; ++e) {
    const int j = (e % 256) / 16;
    const int sc =
        j == 0 ? code_min : (13 * j + 7) % (-code_min) - (-code_min) / 2;
    const int span = -2 * qmin - 1;  // levels qmin + 1 .. -qmin - 1
    const int q = e % 16 == 0 ? qmin : (5 * e) % span + qmin + 1;
    x[e] = d * static_cast<float>(sc) * static_cast<float>(q);
  }
  return x;
}

TEST(GgmlRoundTrip, SymmetricKQuantsExact) {
  expect_exact_round_trip(GgmlType::Q3_K, symmetric_k_row(-4, -32));
  expect_exact_round_trip(GgmlType::Q6_K, symmetric_k_row(-32, -128));
}

TEST(GgmlRoundTrip, ZeroRowStaysZero) {
  for (GgmlType type :
       {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
        GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
        GgmlType::Q5_K, GgmlType::Q6_K}) {
    expect_exact_round_trip(type, std::vector<float>(256, 0.0f));
  }
}

// Relative RMSE of llama.cpp's quantizers, computed with ggml v0.21.0
// (commit d99724f2) quantize_* and dequantize_row_* built from source.
struct Golden {
  GgmlType type;
  double llama_rmse;           // reference quantizer, no importance
  double llama_weighted_rmse;  // importance quantizer, importance-weighted
};

// On gaussian(1, 4096) with skewed_importance(2, 4096).
const Golden kGoldens[] = {
    {GgmlType::Q4_0, 0.083654, 0.062427}, {GgmlType::Q4_1, 0.076303, 0.044065},
    {GgmlType::Q5_0, 0.041223, 0.030920}, {GgmlType::Q5_1, 0.036725, 0.021306},
    {GgmlType::Q8_0, 0.005222, 0.005381}, {GgmlType::Q2_K, 0.288124, 0.155462},
    {GgmlType::Q3_K, 0.146132, 0.105585}, {GgmlType::Q4_K, 0.069516, 0.045006},
    {GgmlType::Q5_K, 0.034978, 0.023839}, {GgmlType::Q6_K, 0.017418, 0.012506},
};

TEST(GgmlQuality, BeatsLlamaCppWithoutImportance) {
  const std::vector<float> x = gaussian(1, 4096);
  for (const Golden& golden : kGoldens) {
    const double rmse = relative_rmse(x, round_trip(golden.type, x));
    EXPECT_LT(rmse, golden.llama_rmse) << ggml_type_name(golden.type);
  }
}

TEST(GgmlQuality, BeatsLlamaCppWithImportance) {
  const std::vector<float> x = gaussian(1, 4096);
  const std::vector<float> importance = skewed_importance(2, 4096);
  for (const Golden& golden : kGoldens) {
    const double rmse = relative_rmse(
        x, round_trip(golden.type, x, importance.data()), importance.data());
    EXPECT_LT(rmse, golden.llama_weighted_rmse) << ggml_type_name(golden.type);
  }
}

// On the trained weights model.layers.1.mlp.down_proj.weight (256 x 768,
// BF16) of the optiq-bench-kdocs model, with skewed_importance(2, 768).
const Golden kModelGoldens[] = {
    {GgmlType::Q4_0, 0.088952, 0.062516}, {GgmlType::Q4_1, 0.079876, 0.043186},
    {GgmlType::Q5_0, 0.044307, 0.031023}, {GgmlType::Q5_1, 0.038740, 0.021114},
    {GgmlType::Q8_0, 0.005546, 0.005344}, {GgmlType::Q2_K, 0.302283, 0.153293},
    {GgmlType::Q3_K, 0.154698, 0.101470}, {GgmlType::Q4_K, 0.073017, 0.044819},
    {GgmlType::Q5_K, 0.037029, 0.024799}, {GgmlType::Q6_K, 0.018246, 0.012570},
};

TEST(GgmlQuality, BeatsLlamaCppOnModelWeights) {
  const std::string model = "models/optiq-bench-kdocs/model.safetensors";
  OPTIQ_REQUIRE_SHARED(model);
  const SafetensorsFile file(testing::shared_path(model));
  const TensorView& tensor = file.at("model.layers.1.mlp.down_proj.weight");
  ASSERT_EQ(tensor.dtype, DType::BF16);
  ASSERT_EQ(tensor.shape, (std::vector<int64_t>{256, 768}));
  const int64_t rows = 256;
  const int64_t cols = 768;
  std::vector<float> w(rows * cols);
  for (size_t i = 0; i < w.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, tensor.data + 2 * i, sizeof bits);
    w[i] = bf16_to_float(bits);
  }
  const std::vector<float> importance = skewed_importance(2, cols);
  std::vector<float> row_importance(w.size());
  for (size_t i = 0; i < w.size(); ++i)
    row_importance[i] = importance[i % cols];

  std::vector<float> y(w.size());
  for (const Golden& golden : kModelGoldens) {
    SCOPED_TRACE(ggml_type_name(golden.type));
    ggml_fake_quantize_matrix(golden.type, w.data(), rows, cols, nullptr,
                              y.data());
    EXPECT_LT(relative_rmse(w, y), golden.llama_rmse);
    ggml_fake_quantize_matrix(golden.type, w.data(), rows, cols,
                              importance.data(), y.data());
    EXPECT_LT(relative_rmse(w, y, row_importance.data()),
              golden.llama_weighted_rmse);
  }
}

TEST(GgmlQuality, KQuantErrorOrderedByBits) {
  // Relative RMSE bounds on standard normal rows (about 1.1x the measured
  // value), in order Q2_K > Q3_K > Q4_K > Q5_K > Q6_K > Q8_0.
  const std::vector<float> x = gaussian(3, 8192);
  const struct {
    GgmlType type;
    double bound;
  } ladder[] = {{GgmlType::Q2_K, 0.28},   {GgmlType::Q3_K, 0.155},
                {GgmlType::Q4_K, 0.075},  {GgmlType::Q5_K, 0.037},
                {GgmlType::Q6_K, 0.0185}, {GgmlType::Q8_0, 0.0055}};
  double previous = 1.0;
  for (const auto& step : ladder) {
    const double rmse = relative_rmse(x, round_trip(step.type, x));
    EXPECT_LT(rmse, step.bound) << ggml_type_name(step.type);
    EXPECT_LT(rmse, previous) << ggml_type_name(step.type);
    EXPECT_GT(rmse, step.bound / 2) << ggml_type_name(step.type);
    previous = rmse;
  }
}

TEST(GgmlQuality, ImportanceLowersWeightedError) {
  const std::vector<float> x = gaussian(4, 4096);
  const std::vector<float> importance = skewed_importance(5, 4096);
  for (const Golden& golden : kGoldens) {
    const double plain =
        relative_rmse(x, round_trip(golden.type, x), importance.data());
    const double weighted = relative_rmse(
        x, round_trip(golden.type, x, importance.data()), importance.data());
    EXPECT_LT(weighted, plain) << ggml_type_name(golden.type);
  }
}

TEST(GgmlQuality, HugeImportanceStaysFinite) {
  // Importance near the float maximum must neither overflow the weighted
  // sums nor change the result much: only the ratios between columns matter.
  const std::vector<float> x = gaussian(10, 1024);
  const std::vector<float> importance = skewed_importance(11, 1024);
  std::vector<float> huge = importance;
  for (float& v : huge) v *= 1e30f;
  for (const Golden& golden : kGoldens) {
    SCOPED_TRACE(ggml_type_name(golden.type));
    const std::vector<float> y = round_trip(golden.type, x, huge.data());
    for (float v : y) ASSERT_TRUE(std::isfinite(v));
    const double scaled = relative_rmse(x, y, importance.data());
    const double plain = relative_rmse(
        x, round_trip(golden.type, x, importance.data()), importance.data());
    EXPECT_NEAR(scaled, plain, 0.01 * plain);
  }
}

TEST(GgmlQuality, ZeroImportanceBlockIsQuantizedPlainly) {
  // A super-block whose importance is all zero is scored as if unweighted,
  // so it must match the result without importance.
  const std::vector<float> x = gaussian(6, 512);
  std::vector<float> importance(512, 0.0f);
  for (int i = 256; i < 512; ++i)
    importance[i] = 1.0f + static_cast<float>(i % 3);
  for (GgmlType type : {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q4_0}) {
    const std::vector<float> with = round_trip(type, x, importance.data());
    const std::vector<float> without = round_trip(type, x);
    for (int i = 0; i < 256; ++i) {
      ASSERT_EQ(with[i], without[i])
          << ggml_type_name(type) << " element " << i;
    }
  }
}

TEST(GgmlMatrix, MatchesRowsAndIgnoresThreadCount) {
  const int64_t rows = 13;
  const int64_t cols = 512;
  const std::vector<float> w = gaussian(7, static_cast<int>(rows * cols));
  const std::vector<float> importance = skewed_importance(8, cols);
  const int saved = thread_count();
  for (GgmlType type : {GgmlType::Q2_K, GgmlType::Q4_K, GgmlType::Q6_K,
                        GgmlType::Q5_1, GgmlType::BF16}) {
    SCOPED_TRACE(ggml_type_name(type));
    set_thread_count(1);
    std::vector<uint8_t> one;
    ggml_quantize_matrix(type, w.data(), rows, cols, importance.data(), one);
    set_thread_count(4);
    std::vector<uint8_t> four;
    ggml_quantize_matrix(type, w.data(), rows, cols, importance.data(), four);
    EXPECT_EQ(one, four);
    const size_t row_bytes = ggml_row_bytes(type, cols);
    ASSERT_EQ(one.size(), row_bytes * rows);
    std::vector<uint8_t> row(row_bytes);
    ggml_quantize_row(type, w.data() + 5 * cols, row.data(), cols,
                      importance.data());
    EXPECT_TRUE(
        std::equal(row.begin(), row.end(), one.begin() + 5 * row_bytes));

    std::vector<float> fake(w.size());
    ggml_fake_quantize_matrix(type, w.data(), rows, cols, importance.data(),
                              fake.data());
    std::vector<float> decoded(w.size());
    for (int64_t r = 0; r < rows; ++r) {
      ggml_dequantize_row(type, one.data() + r * row_bytes,
                          decoded.data() + r * cols, cols);
    }
    EXPECT_EQ(fake, decoded);
  }
  set_thread_count(saved);
}

TEST(GgmlMatrix, FakeQuantizeInPlace) {
  std::vector<float> w = gaussian(9, 4 * 256);
  const std::vector<float> original = w;
  std::vector<float> expected(w.size());
  ggml_fake_quantize_matrix(GgmlType::Q3_K, original.data(), 4, 256, nullptr,
                            expected.data());
  ggml_fake_quantize_matrix(GgmlType::Q3_K, w.data(), 4, 256, nullptr,
                            w.data());
  EXPECT_EQ(w, expected);
}

}  // namespace
}  // namespace optiq
