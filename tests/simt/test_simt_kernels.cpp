// The remaining kernels of kernels/ on the SIMT executor, through their own launchers: the cudnn
// backend's transform kernels (reverse_rows, finish_outputs, restore_states; shift_rows,
// finish_shifted_outputs for left-padded masks) against a host loop over the same index maps
// (kernels/cudnn_transforms.hpp, cudnn_shift.hpp) — random shapes, both layouts, 2- and
// 4-byte elements, lengths with 0 and T, in place and from scratch, destinations poisoned with
// guard bytes after them, several grid-stride blocks; the length upload (chunks of
// kLengthsPerLaunch, one launch each); the cell-math probe against the host cell_step; the state
// initialisation kernel against init_state_element's contract; the stepwise launchers' refusal of
// a data type they have no kernel for.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "common/compare.hpp"
#include "common/expect_error.hpp"
#include "common/random_model.hpp"
#include "common/transform_expectations.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/cell_math_probe.hpp"
#include "kernels/cudnn_shift.hpp"
#include "kernels/cudnn_transforms.hpp"
#include "kernels/fused_step.hpp"
#include "kernels/upload_lengths.hpp"
#include "simt/executor.hpp"

namespace lstmrt {
namespace {

constexpr std::size_t kGuardBytes = 64;

class SimtKernels : public ::testing::Test {
 protected:
  std::mt19937_64 rng_{test::test_seed()};
  int pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }
  simt::ScopedDevice device_{simt::DeviceFacts{}, test::test_seed()};

  std::vector<unsigned char> random_bytes(std::size_t n) { return test::random_payload(rng_, n); }
  std::vector<std::int32_t> random_lengths(int N, int T, bool allow_zero) {
    return test::random_lengths(rng_, N, T, allow_zero);
  }
  // `host` (or n poison bytes) followed by kGuardBytes of poison.
  static std::vector<unsigned char> guarded(const std::vector<unsigned char>& host) {
    std::vector<unsigned char> v(host);
    v.resize(host.size() + kGuardBytes, 0xFF);
    return v;
  }
  static std::vector<unsigned char> poisoned(std::size_t n) {
    return std::vector<unsigned char>(n + kGuardBytes, 0xFF);
  }
};

TEST_F(SimtKernels, ReverseRowsMatchesHostMap) {
  for (int trial = 0; trial < 12; ++trial) {
    const int T = 1 + pick(9), N = 1 + pick(7), C = 1 + pick(40);
    const int e = pick(2) ? 4 : 2;
    const bool bm = pick(2);
    const auto src = random_bytes(std::size_t(T) * N * C * e);
    const auto lengths = random_lengths(N, T, false);
    auto dst = poisoned(src.size());
    kernels::ReverseRowsParams p{src.data(), dst.data(), lengths.data(), T, N, C, bm, e};
    kernels::launch_reverse_rows(p, nullptr);
    ASSERT_TRUE(test::bytes_match(test::expected_reverse_rows(p, src, lengths), dst,
                                  fmt::format("reverse_rows T={} N={} C={} e={} batch_major={}", T, N, C, e, bm)));
  }
}

TEST_F(SimtKernels, FinishOutputsMatchesHostMap) {
  for (int trial = 0; trial < 24; ++trial) {
    const int T = 1 + pick(9), N = 1 + pick(7), W = 1 + pick(17);
    const int D = 1 + pick(2), e = pick(2) ? 4 : 2;
    kernels::FinishOutputsParams p{};
    p.steps = T, p.rows = N, p.width = W, p.directions = D, p.element_bytes = e;
    p.batch_major = pick(2);
    p.reversed_run = D == 1 && pick(2);
    p.processing = p.reversed_run && pick(2);
    p.carry_last = pick(2);
    p.slot_reverse[0] = p.reversed_run;
    p.slot_reverse[1] = true;
    const bool in_place = !p.reversed_run && pick(2);
    const std::size_t bytes = std::size_t(T) * N * D * W * e;
    const auto src_host = random_bytes(bytes);
    const auto lengths = random_lengths(N, T, true);
    auto src = guarded(src_host);
    auto dst = poisoned(bytes);
    p.src = src.data();
    p.dst = in_place ? src.data() : dst.data();
    p.lengths = lengths.data();
    kernels::launch_finish_outputs(p, nullptr);
    ASSERT_TRUE(test::bytes_match(test::expected_finish_outputs(p, src_host, lengths), in_place ? src : dst,
                                  fmt::format("finish_outputs T={} N={} {}x{} in_place={} reversed={} processing={} "
                                              "carry={}",
                                              T, N, D, W, in_place, p.reversed_run, p.processing, p.carry_last)));
  }
}

// The shift kernels for left-padded masks (kernels/cudnn_shift.hpp).
TEST_F(SimtKernels, ShiftRowsMatchesHostMap) {
  for (int trial = 0; trial < 12; ++trial) {
    const int T = 1 + pick(9), N = 1 + pick(7), C = 1 + pick(40);
    const int e = pick(2) ? 4 : 2;
    const bool bm = pick(2), reversed = pick(2);
    const auto src = random_bytes(std::size_t(T) * N * C * e);
    const auto lengths = random_lengths(N, T, true);
    auto dst = poisoned(src.size());
    kernels::ShiftRowsParams p{src.data(), dst.data(), lengths.data(), T, N, C, bm, reversed, e};
    kernels::launch_shift_rows(p, nullptr);
    ASSERT_TRUE(test::bytes_match(
        test::expected_shift_rows(p, src, lengths), dst,
        fmt::format("shift_rows T={} N={} C={} e={} batch_major={} reversed={}", T, N, C, e, bm, reversed)));
  }
}

TEST_F(SimtKernels, FinishShiftedOutputsMatchesHostMap) {
  for (int trial = 0; trial < 24; ++trial) {
    const int T = 1 + pick(9), N = 1 + pick(7), W = 1 + pick(17);
    const int D = 1 + pick(2), e = pick(2) ? 4 : 2;
    kernels::FinishOutputsParams p{};
    p.steps = T, p.rows = N, p.width = W, p.directions = D, p.element_bytes = e;
    p.batch_major = pick(2);
    p.reversed_run = D == 1 && pick(2);
    p.processing = p.reversed_run && pick(2);
    p.carry_last = pick(2);
    p.slot_reverse[0] = p.reversed_run;
    p.slot_reverse[1] = true;
    const std::size_t bytes = std::size_t(T) * N * D * W * e;
    const auto src = random_bytes(bytes);
    const auto lengths = random_lengths(N, T, true);
    auto dst = poisoned(bytes);
    p.src = src.data(), p.dst = dst.data(), p.lengths = lengths.data();
    kernels::launch_finish_shifted_outputs(p, nullptr);
    ASSERT_TRUE(
        test::bytes_match(test::expected_finish_shifted_outputs(p, src, lengths), dst,
                          fmt::format("finish_shifted_outputs T={} N={} {}x{} reversed={} processing={} carry={}", T, N,
                                      D, W, p.reversed_run, p.processing, p.carry_last)));
  }
}

// Enough elements for several blocks of the grid-stride loop.
TEST_F(SimtKernels, FinishOutputsSeveralBlocks) {
  kernels::FinishOutputsParams p{};
  p.steps = 9, p.rows = 7, p.width = 11, p.directions = 2, p.element_bytes = 4, p.carry_last = true;
  p.slot_reverse[1] = true;
  const std::size_t bytes = std::size_t(9) * 7 * 2 * 11 * 4;
  const auto src = random_bytes(bytes);
  const auto lengths = random_lengths(7, 9, true);
  auto dst = poisoned(bytes);
  p.src = src.data(), p.dst = dst.data(), p.lengths = lengths.data();
  kernels::launch_finish_outputs(p, nullptr);
  EXPECT_GE(simt::last_launch_stats().blocks, 5u);
  EXPECT_TRUE(test::bytes_match(test::expected_finish_outputs(p, src, lengths), dst, "finish_outputs, 6 blocks"));
}

TEST_F(SimtKernels, RestoreStatesTouchesOnlyZeroLengthRows) {
  for (int trial = 0; trial < 12; ++trial) {
    const int S = 1 + pick(4), N = 1 + pick(7), HW = 1 + pick(9), CW = HW + pick(5);
    const int e = pick(2) ? 4 : 2;
    const bool with_initial = pick(2);
    const auto lengths = random_lengths(N, 3, true);
    const auto h_before = random_bytes(std::size_t(S) * N * HW * e),
               c_before = random_bytes(std::size_t(S) * N * CW * e);
    const auto h0 = random_bytes(h_before.size()), c0 = random_bytes(c_before.size());
    auto h_n = guarded(h_before), c_n = guarded(c_before);
    kernels::RestoreStatesParams p{h_n.data(),
                                   c_n.data(),
                                   with_initial ? h0.data() : nullptr,
                                   with_initial ? c0.data() : nullptr,
                                   lengths.data(),
                                   S,
                                   N,
                                   HW,
                                   CW,
                                   e};
    kernels::launch_restore_states(p, nullptr);
    const std::vector<unsigned char> none;
    const std::string what = fmt::format("restore_states S={} N={} {}/{} initial={}", S, N, HW, CW, with_initial);
    ASSERT_TRUE(test::bytes_match(test::expected_restore_states(p, HW, h_before, with_initial ? h0 : none, lengths),
                                  h_n, "h_n of " + what));
    ASSERT_TRUE(test::bytes_match(test::expected_restore_states(p, CW, c_before, with_initial ? c0 : none, lengths),
                                  c_n, "c_n of " + what));
  }
}

TEST_F(SimtKernels, UploadLengthsEveryChunk) {
  const int k = kernels::kLengthsPerLaunch;
  for (int count : {1, 255, 256, 257, k, k + 1, 2 * k + 17}) {
    std::vector<std::int32_t> host(count), dev(count + 16, -7);
    for (auto& v : host) v = static_cast<std::int32_t>(rng_() % 100000);
    kernels::upload_lengths(host.data(), count, dev.data(), nullptr);
    for (int i = 0; i < count; ++i) ASSERT_EQ(dev[i], host[i]) << "count " << count << " row " << i;
    for (int i = count; i < count + 16; ++i) ASSERT_EQ(dev[i], -7) << "wrote past the end, count " << count;
  }
}

TEST_F(SimtKernels, CellMathProbeMatchesHost) {
  for (int trial = 0; trial < 4; ++trial) {
    ModelDesc m;
    m.input_size = 3;
    m.hidden_size = 4;
    test::randomize_cell_features(m, rng_, false);
    const kernels::CellMathParams params = kernels::make_cell_math_params(m, 0);
    const int count = 300 + pick(400);  // two or more blocks
    std::vector<kernels::CellProbeInput> in(count);
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    for (auto& v : in) v = {u(rng_), u(rng_), u(rng_), u(rng_), u(rng_), u(rng_), u(rng_), u(rng_)};
    std::vector<kernels::CellResult> out(count, {test::poison_value(), test::poison_value()});
    kernels::launch_cell_math_probe(params, in.data(), out.data(), count, nullptr);
    for (int i = 0; i < count; ++i) {
      const kernels::CellProbeInput& v = in[i];
      const kernels::CellResult want =
          kernels::cell_step(params, v.z_i, v.z_f, v.z_g, v.z_o, v.c_prev, v.p_i, v.p_f, v.p_o);
      ASSERT_EQ(std::memcmp(&out[i], &want, sizeof want), 0) << i;
    }
  }
}

// init_state_element's contract for every (d, b, j) of several blocks: c from c0 (or 0), h from
// h0 (or 0) for j < H_out, m zeroed; nothing written past the buffers.
TEST_F(SimtKernels, InitStateFromInitialStateOrZeros) {
  for (const bool with_initial : {false, true}) {
    kernels::InitStateParams p{};
    p.batch = 7, p.hidden = 50, p.out_size = 20, p.directions = 2;  // 700 threads: 3 blocks
    const std::size_t hc = std::size_t(2) * 7 * 50, hh = std::size_t(2) * 7 * 20;
    std::vector<float> h0 = test::random_vector(hh, rng_), c0 = test::random_vector(hc, rng_);
    std::vector<float> h_state(hh + 8, test::poison_value()), c_state(hc + 8, test::poison_value()),
        m_state(hc + 8, test::poison_value());
    p.h0 = with_initial ? h0.data() : nullptr;
    p.c0 = with_initial ? c0.data() : nullptr;
    p.h_state = h_state.data();
    p.c_state = c_state.data();
    p.m_state = m_state.data();
    kernels::launch_init_state(p, DataType::kFloat32, nullptr);
    for (std::size_t i = 0; i < hc; ++i) {
      ASSERT_EQ(c_state[i], with_initial ? c0[i] : 0.0f) << i;
      ASSERT_EQ(m_state[i], 0.0f) << i;
    }
    for (std::size_t i = 0; i < hh; ++i) ASSERT_EQ(h_state[i], with_initial ? h0[i] : 0.0f) << i;
    for (std::size_t i = 0; i < 8; ++i) {
      EXPECT_TRUE(std::isnan(h_state[hh + i]) && std::isnan(c_state[hc + i]) && std::isnan(m_state[hc + i]));
    }
  }
}

// A DataType value the stepwise kernels have no instantiation for (a later file-only type): a
// one-line kInvalidArgument naming the launcher and the type, and nothing written.
TEST_F(SimtKernels, StepwiseLaunchersRefuseOtherDataTypes) {
  const DataType other = static_cast<DataType>(100);  // outside the enum: named "unknown"
  kernels::InitStateParams init{};
  init.batch = 2, init.hidden = 3, init.out_size = 3, init.directions = 1;
  std::vector<float> h(6, test::poison_value()), c(6, test::poison_value());
  init.h_state = h.data();
  init.c_state = c.data();
  test::expect_error([&] { kernels::launch_init_state(init, other, nullptr); }, ErrorCode::kInvalidArgument,
                     {"launch_init_state", "unknown data", "expected float32, float16 or bfloat16"});
  for (std::size_t i = 0; i < 6; ++i) EXPECT_TRUE(std::isnan(h[i]) && std::isnan(c[i])) << i;
  kernels::GateStepParams step{};
  step.batch = 2, step.hidden = 3, step.out_size = 3, step.directions = 1, step.seq_len = 1;
  test::expect_error([&] { kernels::launch_gate_step(step, other, nullptr); }, ErrorCode::kInvalidArgument,
                     {"launch_gate_step", "unknown data", "expected float32, float16 or bfloat16"});
}

}  // namespace
}  // namespace lstmrt
