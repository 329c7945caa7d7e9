// GPU smoke test: the device is what lstmrt reports, and the device instantiation of the cell math
// (kernels/lstm_cell_math.cuh through the probe kernel) agrees with the host instantiation that the
// CPU tests check against the reference.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "common/compare.hpp"
#include "gpu_test.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/cell_math_probe.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt {
namespace {

using kernels::CellMathParams;
using kernels::CellProbeInput;
using kernels::CellResult;
using test::DeviceArray;

class GpuSmoke : public test::GpuTest {};

TEST_F(GpuSmoke, DeviceQueryMatchesQuerySystem) {
  int device_count = 0;
  LSTMRT_TEST_CUDA(cudaGetDeviceCount(&device_count));
  ASSERT_GT(device_count, 0);
  cudaDeviceProp prop{};
  LSTMRT_TEST_CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("device 0: %s, %d SMs, compute capability %d.%d, %.1f GiB, L2 %d KiB, smem/block optin %zu KiB\n",
              prop.name, prop.multiProcessorCount, prop.major, prop.minor,
              static_cast<double>(prop.totalGlobalMem) / (1u << 30), prop.l2CacheSize / 1024,
              prop.sharedMemPerBlockOptin / 1024);
  RecordProperty("device_name", prop.name);
  RecordProperty("multiprocessors", prop.multiProcessorCount);
  RecordProperty("compute_capability", prop.major * 10 + prop.minor);
  EXPECT_GT(prop.multiProcessorCount, 0);
  EXPECT_GE(prop.major, 9) << "lstmrt is built for sm_90 (Hopper) and newer";

  const SystemInfo info = query_system();
  ASSERT_EQ(static_cast<int>(info.gpus.size()), device_count);
  EXPECT_EQ(info.gpus[0].name, prop.name);
  EXPECT_EQ(info.gpus[0].multiprocessors, prop.multiProcessorCount);
  EXPECT_EQ(info.gpus[0].compute_major, prop.major);
  EXPECT_EQ(info.gpus[0].compute_minor, prop.minor);
  EXPECT_GT(info.cuda_driver_version, 0);
}

// Cell options and activations for one probe round: every activation appears in every role.
CellMathParams round_params(int round, std::mt19937_64& rng) {
  const Activation acts[] = {Activation::sigmoid(),
                             Activation::tanh(),
                             Activation::relu(),
                             Activation::affine(0.8f, 0.1f),
                             Activation::leaky_relu(0.2f),
                             Activation::thresholded_relu(0.3f),
                             Activation::scaled_tanh(1.3f, 0.7f),
                             Activation::hard_sigmoid(0.25f, 0.45f),
                             Activation::hard_sigmoid_keras3(),
                             Activation::elu(0.6f),
                             Activation::softsign(),
                             Activation::softplus()};
  const int k = static_cast<int>(sizeof(acts) / sizeof(acts[0]));
  CellMathParams p{};
  p.gate = kernels::to_act_params(acts[round % k]);
  p.cell = kernels::to_act_params(acts[(round + 1) % k]);
  p.hidden = kernels::to_act_params(acts[(round + 2) % k]);
  p.clip = (round / k) % 2 == 1 ? std::uniform_real_distribution<float>(0.5f, 3.0f)(rng) : 0.0f;
  p.peepholes = round % 3 != 0;
  p.coupled_input_forget = round % 4 == 1;
  return p;
}

// Random points on a 2^-8 grid, a few of them saturating; never zeros. On that grid the gate inputs
// z + p·c_prev are exact in float, so host and device activate exactly the same numbers whether or
// not the compiler contracts to FMA; what remains to compare is the activations' own rounding.
std::vector<CellProbeInput> probe_points(int count, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> z(-4.0f, 4.0f), c(-3.0f, 3.0f), peep(-1.0f, 1.0f), big(-60.0f, 60.0f);
  auto grid = [](float v) { return std::nearbyint(v * 256.0f) / 256.0f; };
  std::vector<CellProbeInput> in(static_cast<std::size_t>(count));
  for (int k = 0; k < count; ++k) {
    const bool saturate = k % 17 == 0;
    auto pick = [&](std::uniform_real_distribution<float>& d) { return grid(saturate ? big(rng) : d(rng)); };
    in[k] = {pick(z), pick(z), pick(z), pick(z), grid(c(rng)), grid(peep(rng)), grid(peep(rng)), grid(peep(rng))};
    if (in[k].c_prev == 0.0f) in[k].c_prev = 0.5f;
  }
  return in;
}

// Thresholded relu jumps from 0 to alpha at x = alpha: where an input computed from the new c
// (the output gate's and the hidden activation's) lies within rounding of alpha, host and device
// may legitimately land on different sides. Such points are left out of the comparison.
bool near_jump(const kernels::ActParams& a, float x) {
  return a.kind == kernels::ActKind::kThresholdedRelu && std::fabs(x - a.alpha) < 1e-4f;
}
bool ill_conditioned(const CellMathParams& p, const CellProbeInput& v, float c) {
  const float o_input = kernels::clip_value(v.z_o + (p.peepholes ? v.p_o * c : 0.0f), p.clip);
  return near_jump(p.gate, o_input) || near_jump(p.hidden, kernels::clip_value(c, p.clip));
}

TEST_F(GpuSmoke, CellMathProbeMatchesHostInstantiation) {
  const std::uint64_t seed = test::test_seed();
  SCOPED_TRACE(testing::Message() << "LSTMRT_TEST_SEED=" << seed);
  std::mt19937_64 rng(seed);
  constexpr int kRounds = 48;  // 12 activations × clip on/off × 2
  for (int round = 0; round < kRounds; ++round) {
    const int count = 1000 + static_cast<int>(rng() % 5000);
    const CellMathParams params = round_params(round, rng);
    const std::vector<CellProbeInput> in = probe_points(count, rng);

    DeviceArray<CellProbeInput> d_in(in.size());
    DeviceArray<CellResult> d_out(in.size());
    ASSERT_TRUE(d_in.ok() && d_out.ok());
    LSTMRT_TEST_CUDA(cudaMemcpyAsync(d_in.get(), in.data(), d_in.bytes(), cudaMemcpyHostToDevice, stream()));
    LSTMRT_TEST_CUDA(cudaMemsetAsync(d_out.get(), 0xFF, d_out.bytes(), stream()));  // NaN poison
    kernels::launch_cell_math_probe(params, d_in.get(), d_out.get(), count, stream());
    std::vector<CellResult> out(in.size());
    LSTMRT_TEST_CUDA(cudaMemcpyAsync(out.data(), d_out.get(), d_out.bytes(), cudaMemcpyDeviceToHost, stream()));
    LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));

    std::vector<float> want_c, want_h, got_c, got_h;
    for (std::size_t k = 0; k < in.size(); ++k) {
      const CellProbeInput& v = in[k];
      const CellResult host = kernels::cell_step(params, v.z_i, v.z_f, v.z_g, v.z_o, v.c_prev, v.p_i, v.p_f, v.p_o);
      if (ill_conditioned(params, v, host.c)) continue;
      want_c.push_back(host.c), want_h.push_back(host.h);
      got_c.push_back(out[k].c), got_h.push_back(out[k].h);
    }
    ASSERT_GE(want_c.size(), in.size() * 99 / 100) << "too many points left out near a thresholded-relu jump";
    SCOPED_TRACE(testing::Message() << "round " << round << " gate " << static_cast<int>(params.gate.kind) << " cell "
                                    << static_cast<int>(params.cell.kind) << " hidden "
                                    << static_cast<int>(params.hidden.kind) << " clip " << params.clip << " peepholes "
                                    << params.peepholes << " coupled " << params.coupled_input_forget);
    // Device expf/tanhf/log1pf are within 2 ulp of glibc's, and nvcc contracts to FMA: a few ulp.
    EXPECT_TRUE(test::all_close(want_c, got_c, 2e-6, 4e-6, "c"));
    EXPECT_TRUE(test::all_close(want_h, got_h, 2e-6, 4e-6, "h"));
    if (HasFailure()) break;
  }
}

TEST_F(GpuSmoke, CellMathProbeWithZeroCountLaunchesNothing) {
  const CellMathParams params = kernels::make_cell_math_params(ModelDesc{}, 0);
  EXPECT_NO_THROW(kernels::launch_cell_math_probe(params, nullptr, nullptr, 0, stream()));
  LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
}

}  // namespace
}  // namespace lstmrt
