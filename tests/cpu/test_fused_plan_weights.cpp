// The fused backend's host-side weight packing (src/fused/fused_weights.hpp), storage conversion
// and the GEMM alignment arithmetic (src/fused/fused_gemm.hpp).
#include <gtest/gtest.h>

#include "common/expect_error.hpp"
#include "fused/fused_gemm.hpp"
#include "fused/fused_weights.hpp"

namespace lstmrt::fused {
namespace {

TEST(FusedWeights, PacksDirectionsStackedWithSummedBias) {
  ModelDesc m;
  m.input_size = 3;
  m.hidden_size = 2;
  m.proj_size = 1;
  m.num_layers = 2;
  m.direction = Direction::kBidirectional;
  m.peepholes = true;
  const Weights w = random_weights(m, 11, 1.0f);
  for (int l = 0; l < 2; ++l) {
    const PackedLayer p = pack_layer(m, w, l);
    const int in = m.layer_input_size(l);
    ASSERT_EQ(p.w_ih.size(), 2u * 8 * in);
    ASSERT_EQ(p.w_hh.size(), 2u * 8 * 1);
    ASSERT_EQ(p.w_hr.size(), 2u * 1 * 2);
    ASSERT_EQ(p.bias.size(), 2u * 8);
    ASSERT_EQ(p.peephole.size(), 2u * 6);
    for (int d = 0; d < 2; ++d) {
      const LayerWeights& lw = w.at(m, l, d);
      for (int r = 0; r < 8; ++r) {
        EXPECT_EQ(p.bias[d * 8 + r], lw.b_ih[r] + lw.b_hh[r]);
        for (int k = 0; k < in; ++k) EXPECT_EQ(p.w_ih[(d * 8 + r) * in + k], lw.w_ih[r * in + k]);
        EXPECT_EQ(p.w_hh[d * 8 + r], lw.w_hh[r]);
      }
      for (int k = 0; k < 6; ++k) EXPECT_EQ(p.peephole[d * 6 + k], lw.peephole[k]);
      for (int k = 0; k < 2; ++k) EXPECT_EQ(p.w_hr[d * 2 + k], lw.w_hr[k]);
    }
  }
  m.peepholes = false;
  m.proj_size = 0;
  const PackedLayer plain = pack_layer(m, random_weights(m, 3, 1.0f), 0);
  EXPECT_TRUE(plain.peephole.empty());
  EXPECT_TRUE(plain.w_hr.empty());
  test::expect_error([&] { pack_layer(m, w, 2); }, ErrorCode::kInvalidArgument, {"layer 2", "0..1"});
}

TEST(FusedGemm, CommonAlignment) {
  alignas(256) static char buffer[1024];
  EXPECT_EQ(common_alignment(buffer, 4, 64, 0), 256u);
  EXPECT_EQ(common_alignment(buffer, 4, 3, 0), 4u);       // rows 12 bytes apart
  EXPECT_EQ(common_alignment(buffer, 2, 8, 0), 16u);      // rows 16 bytes apart
  EXPECT_EQ(common_alignment(buffer + 8, 4, 64, 0), 8u);  // the address itself
  EXPECT_EQ(common_alignment(buffer, 2, 64, 3), 2u);      // batch entries 6 bytes apart
  EXPECT_EQ(common_alignment(buffer, 4, 1024, 4096), 256u);
}

}  // namespace
}  // namespace lstmrt::fused
