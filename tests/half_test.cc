#include <gtest/gtest.h>

#include <cmath>

#include "optiq/core/dtype.h"
#include "optiq/core/half.h"

namespace optiq {
namespace {

TEST(Half, F16KnownValues) {
  EXPECT_EQ(f16_to_float(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_float(0xc000), -2.0f);
  EXPECT_EQ(f16_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(f16_to_float(0x7c00)));
  EXPECT_TRUE(std::isnan(f16_to_float(0x7e00)));
}

TEST(Half, F16RoundTripsEveryValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = f16_to_float(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(float_to_f16(f), h) << "f16 bits " << h;
  }
}

TEST(Half, F16RoundsToNearestEven) {
  // 1 + 2^-11 lies halfway between 1 and the next f16 (1 + 2^-10): ties to even.
  EXPECT_EQ(float_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(float_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_f16(65520.0f), 0x7c00);  // rounds up to inf
  EXPECT_EQ(float_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -25)), 0x0000);   // tie to even zero
  EXPECT_EQ(float_to_f16(std::ldexp(1.5f, -24)), 0x0002);  // tie to even 2
}

TEST(Half, Bf16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bf16(bits_to_float(0x3f808000)), 0x3f80);  // tie, even
  EXPECT_EQ(float_to_bf16(bits_to_float(0x3f818000)), 0x3f82);  // tie, odd up
  EXPECT_EQ(float_to_bf16(bits_to_float(0x3f808001)), 0x3f81);
  EXPECT_EQ(bf16_to_float(0x4049), 3.140625f);
}

TEST(DType, ParsesSafetensorsNames) {
  EXPECT_EQ(parse_dtype("BF16"), DType::BF16);
  EXPECT_EQ(dtype_size(DType::F16), 2u);
  EXPECT_FALSE(parse_dtype("F8_E4M3").has_value());
}

}  // namespace
}  // namespace optiq
