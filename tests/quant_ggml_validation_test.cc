// Input checks: bad lengths, non-finite or out-of-range weights and bad
// importance values are rejected with optiq::Error before anything is
// written.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "optiq/core/error.h"
#include "quant_ggml_test_util.h"

namespace optiq {
namespace {

const GgmlType kAllTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16,
                              GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                              GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,
                              GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                              GgmlType::Q6_K};

// Runs ggml_quantize_row and returns the error message, or "" when it did
// not throw. Checks that a rejected call left the output untouched.
std::string quantize_error(GgmlType type, const std::vector<float>& x,
                           const float* importance = nullptr) {
  const int64_t n = static_cast<int64_t>(x.size());
  const size_t bytes = static_cast<size_t>(n) * 4 + 256;
  std::vector<uint8_t> out(bytes, 0xab);
  try {
    ggml_quantize_row(type, x.data(), out.data(), n, importance);
  } catch (const Error& e) {
    for (uint8_t b : out)
      EXPECT_EQ(b, 0xab) << "output written before the error";
    return e.what();
  }
  return "";
}

TEST(GgmlValidation, RejectsPartialBlocks) {
  EXPECT_NE(quantize_error(GgmlType::Q4_K, std::vector<float>(255, 1.0f)), "");
  EXPECT_NE(quantize_error(GgmlType::Q6_K, std::vector<float>(288, 1.0f)), "");
  EXPECT_NE(quantize_error(GgmlType::Q8_0, std::vector<float>(33, 1.0f)), "");
  EXPECT_NE(quantize_error(GgmlType::Q4_0, std::vector<float>(16, 1.0f)), "");
  EXPECT_EQ(quantize_error(GgmlType::F16, std::vector<float>(3, 1.0f)), "");
  std::vector<uint8_t> out(1024);
  std::vector<float> x(256, 1.0f);
  EXPECT_THROW(
      ggml_quantize_row(GgmlType::Q2_K, x.data(), out.data(), -256, nullptr),
      Error);
}

TEST(GgmlValidation, RejectsNanAndInf) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (GgmlType type : kAllTypes) {
    SCOPED_TRACE(ggml_type_name(type));
    for (float bad : {nan, inf, -inf}) {
      std::vector<float> x = ggml_test::gaussian(1, 256);
      x[77] = bad;
      const std::string message = quantize_error(type, x);
      ASSERT_NE(message, "");
      EXPECT_NE(message.find("element 77"), std::string::npos) << message;
      EXPECT_NE(message.find(std::string(ggml_type_name(type))),
                std::string::npos)
          << message;
    }
  }
}

TEST(GgmlValidation, RejectsValuesBeyondF16Range) {
  std::vector<float> x(256, 0.5f);
  x[3] = 70000.0f;
  for (GgmlType type : kAllTypes) {
    const bool rejected = !quantize_error(type, x).empty();
    const bool f16_scaled = type != GgmlType::F32 && type != GgmlType::BF16;
    EXPECT_EQ(rejected, f16_scaled) << ggml_type_name(type);
  }
  x[3] = -65504.0f;  // the largest F16 is still accepted
  for (GgmlType type : kAllTypes) {
    EXPECT_EQ(quantize_error(type, x), "") << ggml_type_name(type);
  }
  // BF16 rejects only finite values that round to inf.
  x[3] = std::numeric_limits<float>::max();
  EXPECT_NE(quantize_error(GgmlType::BF16, x), "");
  EXPECT_EQ(quantize_error(GgmlType::F32, x), "");
}

TEST(GgmlValidation, RejectsBadImportance) {
  const std::vector<float> x = ggml_test::gaussian(1, 256);
  for (float bad : {-1.0f, std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity()}) {
    std::vector<float> importance(256, 1.0f);
    importance[200] = bad;
    const std::string message =
        quantize_error(GgmlType::Q4_K, x, importance.data());
    ASSERT_NE(message, "") << bad;
    EXPECT_NE(message.find("importance[200]"), std::string::npos) << message;
  }
}

TEST(GgmlValidation, MatrixErrorNamesRowAndColumn) {
  std::vector<float> w = ggml_test::gaussian(2, 4 * 256);
  w[2 * 256 + 9] = std::numeric_limits<float>::quiet_NaN();
  std::vector<uint8_t> out;
  try {
    ggml_quantize_matrix(GgmlType::Q5_K, w.data(), 4, 256, nullptr, out);
    FAIL() << "expected optiq::Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("[2, 9]"), std::string::npos) << message;
  }
  std::vector<float> fake(w.size());
  EXPECT_THROW(ggml_fake_quantize_matrix(GgmlType::Q5_K, w.data(), 4, 256,
                                         nullptr, fake.data()),
               Error);
  EXPECT_THROW(
      ggml_quantize_matrix(GgmlType::Q5_K, w.data(), 4, 250, nullptr, out),
      Error);
}

}  // namespace
}  // namespace optiq
