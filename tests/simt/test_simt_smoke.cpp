#include <gtest/gtest.h>
#include "kernels/upload_lengths.hpp"
#include "simt/executor.hpp"
TEST(Smoke, Upload) {
  std::vector<int32_t> h(2500), d(2500, -1);
  for (int i = 0; i < 2500; ++i) h[i] = i * 3;
  lstmrt::kernels::upload_lengths(h.data(), 2500, d.data(), nullptr);
  EXPECT_EQ(h, d);
}
