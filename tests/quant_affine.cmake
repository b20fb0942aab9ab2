optiq_test(test_quant_affine
  SOURCES test_support.cc quant_affine_pack_test.cc quant_affine_test.cc
          quant_affine_mlx_test.cc
  DEPS optiq_quant_affine optiq_io)
