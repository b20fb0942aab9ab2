#include <gtest/gtest.h>

#include "optiq/core/error.h"
#include "optiq/io/safetensors.h"
#include "test_support.h"

namespace optiq {
namespace {

TEST(Safetensors, RoundTripsTensorsAndMetadata) {
  testing::ScratchDir dir;
  std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 7.0f, 8.0f};
  std::vector<uint16_t> b = {0x3c00, 0x4000};
  write_safetensors(dir / "t.safetensors",
                    {{"a", DType::F32, {2, 3}, a.data()}, {"b", DType::F16, {2}, b.data()}},
                    {{"format", "pt"}});
  SafetensorsFile file(dir / "t.safetensors");
  ASSERT_EQ(file.tensors().size(), 2u);
  const TensorView& view = file.at("a");
  EXPECT_EQ(view.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(view.nbytes, 24u);
  std::vector<float> back(6);
  convert_to_float(view.dtype, view.data, back.data(), 6);
  EXPECT_EQ(back, a);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.find("missing"), nullptr);
  EXPECT_THROW(file.at("missing"), Error);
}

TEST(Safetensors, ReadsBenchModel) {
  OPTIQ_REQUIRE_SHARED("models/optiq-bench-kdocs/model.safetensors");
  SafetensorsFile file(testing::shared_path("models/optiq-bench-kdocs/model.safetensors"));
  const TensorView& head = file.at("lm_head.weight");
  EXPECT_EQ(head.dtype, DType::BF16);
  EXPECT_EQ(head.shape, (std::vector<int64_t>{4096, 256}));
  int64_t params = 0;
  for (const TensorView& t : file.tensors()) params += t.numel();
  EXPECT_EQ(params, 6'819'072);
}

}  // namespace
}  // namespace optiq
