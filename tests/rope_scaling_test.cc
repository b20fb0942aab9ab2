// rope_inverse_frequencies against the published RoPE scaling formulas.
//
// Llama 3.1 ("llama3" rope_type), as apply_scaling in Meta's Llama 3.1
// reference model.py computes it, for each frequency f = theta^(-2i/d):
//   wavelength w = 2 pi / f
//   w < original / high_freq_factor  -> f            (high band)
//   w > original / low_freq_factor   -> f / factor   (low band)
//   otherwise, with s = (original / w - low_freq_factor) /
//                       (high_freq_factor - low_freq_factor),
//                                     -> (1 - s) f / factor + s f
// Linear scaling (Hugging Face "linear") divides every frequency by factor.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "optiq/kernels/rope.h"

namespace optiq {
namespace {

// Meta's Llama 3.1 settings.
constexpr double kTheta = 500000.0;
constexpr int64_t kHeadDim = 128;
constexpr double kFactor = 8.0;
constexpr double kLowFreqFactor = 1.0;
constexpr double kHighFreqFactor = 4.0;
constexpr double kOriginalMax = 8192.0;

ModelConfig llama31_config() {
  ModelConfig config;
  config.head_dim = kHeadDim;
  config.rope_theta = kTheta;
  config.rope_scaling.type = RopeScaling::Type::kLlama3;
  config.rope_scaling.factor = kFactor;
  config.rope_scaling.low_freq_factor = kLowFreqFactor;
  config.rope_scaling.high_freq_factor = kHighFreqFactor;
  config.rope_scaling.original_max_position = 8192;
  return config;
}

double unscaled_frequency(int64_t i) {
  return std::pow(kTheta, -static_cast<double>(2 * i) / kHeadDim);
}

enum class Band { kHigh, kMedium, kLow };

// The formula above, in double precision.
double llama3_frequency(int64_t i, Band* band) {
  const double frequency = unscaled_frequency(i);
  const double wavelength = 2.0 * std::numbers::pi / frequency;
  if (wavelength < kOriginalMax / kHighFreqFactor) {
    *band = Band::kHigh;
    return frequency;
  }
  if (wavelength > kOriginalMax / kLowFreqFactor) {
    *band = Band::kLow;
    return frequency / kFactor;
  }
  *band = Band::kMedium;
  const double smooth = (kOriginalMax / wavelength - kLowFreqFactor) /
                        (kHighFreqFactor - kLowFreqFactor);
  return (1.0 - smooth) * frequency / kFactor + smooth * frequency;
}

struct TableRow {
  int64_t index;
  Band band;
  // The same formula evaluated separately in Python (float64), as a check
  // on the C++ version above.
  double expected;
};

// Indices 0-28 are in the high band, 29-34 in the medium band and 35-63 in
// the low band for these settings.
constexpr TableRow kTable[] = {
    {0, Band::kHigh, 1.0},
    {10, Band::kHigh, 0.12868737343265052},
    {28, Band::kHigh, 0.0032114459947525909},
    {29, Band::kMedium, 0.0021665707635033591},
    {31, Band::kMedium, 0.00085675141291963208},
    {34, Band::kMedium, 0.00017850781276799641},
    {35, Band::kLow, 9.5562123539646833e-05},
    {50, Band::kLow, 4.4115346745584042e-06},
    {63, Band::kLow, 3.0689259889145111e-07},
};

// optiq computes the unscaled frequencies in float, as Hugging Face does,
// so a few float ulps of difference are expected.
constexpr double kRelativeTolerance = 2e-6;

TEST(RopeScaling, Llama3MatchesMetaFormula) {
  const std::vector<float> frequencies =
      rope_inverse_frequencies(llama31_config());
  ASSERT_EQ(frequencies.size(), static_cast<size_t>(kHeadDim / 2));
  for (const TableRow& row : kTable) {
    Band band = Band::kHigh;
    const double expected = llama3_frequency(row.index, &band);
    EXPECT_EQ(band, row.band) << "index " << row.index;
    EXPECT_NEAR(expected, row.expected, 1e-12 * row.expected)
        << "index " << row.index;
    EXPECT_NEAR(frequencies[row.index], expected, kRelativeTolerance * expected)
        << "index " << row.index;
  }
}

TEST(RopeScaling, Llama3EveryIndex) {
  const std::vector<float> frequencies =
      rope_inverse_frequencies(llama31_config());
  for (int64_t i = 0; i < kHeadDim / 2; ++i) {
    Band band = Band::kHigh;
    const double expected = llama3_frequency(i, &band);
    EXPECT_NEAR(frequencies[i], expected, kRelativeTolerance * expected)
        << "index " << i;
  }
}

TEST(RopeScaling, LinearDividesEveryFrequency) {
  ModelConfig config = llama31_config();
  config.rope_scaling.type = RopeScaling::Type::kLinear;
  config.rope_scaling.factor = 4.0;
  const std::vector<float> frequencies = rope_inverse_frequencies(config);
  for (int64_t i = 0; i < kHeadDim / 2; ++i) {
    const double expected = unscaled_frequency(i) / 4.0;
    EXPECT_NEAR(frequencies[i], expected, kRelativeTolerance * expected)
        << "index " << i;
  }
}

TEST(RopeScaling, NoneKeepsEveryFrequency) {
  ModelConfig config = llama31_config();
  config.rope_scaling = RopeScaling{};
  const std::vector<float> frequencies = rope_inverse_frequencies(config);
  for (int64_t i = 0; i < kHeadDim / 2; ++i) {
    const double expected = unscaled_frequency(i);
    EXPECT_NEAR(frequencies[i], expected, kRelativeTolerance * expected)
        << "index " << i;
  }
}

}  // namespace
}  // namespace optiq
