// The cudnn backend's transform kernels on the device against a host loop over the same index maps
// (kernels/cudnn_transforms.hpp): random shapes, both layouts, 2- and 4-byte elements, lengths with
// 0 and T, in place and from scratch; destinations poisoned with guard bytes after them.
#include <cstring>

#include "common/transform_expectations.hpp"
#include "cudnn_test_util.hpp"
#include "kernels/cudnn_transforms.hpp"

namespace lstmrt {
namespace {

constexpr std::size_t kGuardBytes = 256;

class CudnnTransforms : public test::GpuTest {
 protected:
  std::mt19937_64 rng_{test::test_seed()};
  std::uniform_int_distribution<int> pick_{0, 1 << 30};

  std::vector<unsigned char> random_bytes(std::size_t n) { return test::random_payload(rng_, n); }
  std::vector<std::int32_t> random_lengths(int N, int T, bool allow_zero) {
    return test::random_lengths(rng_, N, T, allow_zero);
  }
  // Uploads `host` into `d` (host.size() + kGuardBytes long), the guard poisoned.
  void upload_guarded(test::DeviceBytes& d, const std::vector<unsigned char>& host) {
    d.poison();
    if (!host.empty()) cudaMemcpy(d.mem.get(), host.data(), host.size(), cudaMemcpyHostToDevice);
  }
};

TEST_F(CudnnTransforms, ReverseRowsMatchesHostMap) {
  for (int trial = 0; trial < 20; ++trial) {
    const int T = 1 + pick_(rng_) % 9, N = 1 + pick_(rng_) % 7, C = 1 + pick_(rng_) % 33;
    const int e = pick_(rng_) % 2 ? 4 : 2;
    const bool bm = pick_(rng_) % 2;
    const auto src_host = random_bytes(std::size_t(T) * N * C * e);
    const auto lengths = random_lengths(N, T, false);
    test::DeviceBytes src(src_host);
    test::DeviceBytes dst(src_host.size() + kGuardBytes);
    dst.poison();
    test::DeviceArray<std::int32_t> d_len(N);
    LSTMRT_TEST_CUDA(cudaMemcpy(d_len.get(), lengths.data(), N * 4, cudaMemcpyHostToDevice));
    kernels::ReverseRowsParams p{src.mem.get(), dst.mem.get(), d_len.get(), T, N, C, bm, e};
    kernels::launch_reverse_rows(p, stream());
    LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
    ASSERT_TRUE(test::bytes_match(test::expected_reverse_rows(p, src_host, lengths), dst.download(),
                                  fmt::format("reverse_rows T={} N={} C={} e={} batch_major={}", T, N, C, e, bm)));
  }
}

TEST_F(CudnnTransforms, FinishOutputsMatchesHostMap) {
  for (int trial = 0; trial < 40; ++trial) {
    const int T = 1 + pick_(rng_) % 9, N = 1 + pick_(rng_) % 7, W = 1 + pick_(rng_) % 17;
    const int D = 1 + pick_(rng_) % 2, e = pick_(rng_) % 2 ? 4 : 2;
    kernels::FinishOutputsParams p{};
    p.steps = T, p.rows = N, p.width = W, p.directions = D, p.element_bytes = e;
    p.batch_major = pick_(rng_) % 2;
    p.reversed_run = D == 1 && pick_(rng_) % 2;
    p.processing = p.reversed_run && pick_(rng_) % 2;
    p.carry_last = pick_(rng_) % 2;
    p.slot_reverse[0] = p.reversed_run;
    p.slot_reverse[1] = true;
    const bool in_place = !p.reversed_run && pick_(rng_) % 2;
    const std::size_t bytes = std::size_t(T) * N * D * W * e;
    const auto src_host = random_bytes(bytes);
    const auto lengths = random_lengths(N, T, true);
    test::DeviceBytes src(bytes + kGuardBytes);
    upload_guarded(src, src_host);
    test::DeviceBytes dst(bytes + kGuardBytes);
    dst.poison();
    test::DeviceArray<std::int32_t> d_len(N);
    LSTMRT_TEST_CUDA(cudaMemcpy(d_len.get(), lengths.data(), N * 4, cudaMemcpyHostToDevice));
    p.src = src.mem.get();
    p.dst = in_place ? src.mem.get() : dst.mem.get();
    p.lengths = d_len.get();
    kernels::launch_finish_outputs(p, stream());
    LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
    ASSERT_TRUE(test::bytes_match(test::expected_finish_outputs(p, src_host, lengths),
                                  in_place ? src.download() : dst.download(),
                                  fmt::format("finish_outputs T={} N={} {}x{} in_place={} reversed={} processing={} "
                                              "carry={}",
                                              T, N, D, W, in_place, p.reversed_run, p.processing, p.carry_last)));
  }
}

TEST_F(CudnnTransforms, RestoreStatesTouchesOnlyZeroLengthRows) {
  for (int trial = 0; trial < 20; ++trial) {
    const int S = 1 + pick_(rng_) % 4, N = 1 + pick_(rng_) % 7, HW = 1 + pick_(rng_) % 9, CW = HW + pick_(rng_) % 5;
    const int e = pick_(rng_) % 2 ? 4 : 2;
    const bool with_initial = pick_(rng_) % 2;
    const auto lengths = random_lengths(N, 3, true);
    const auto h_before = random_bytes(std::size_t(S) * N * HW * e),
               c_before = random_bytes(std::size_t(S) * N * CW * e);
    const auto h0_host = random_bytes(h_before.size()), c0_host = random_bytes(c_before.size());
    test::DeviceBytes h_n(h_before.size() + kGuardBytes), c_n(c_before.size() + kGuardBytes);
    upload_guarded(h_n, h_before);
    upload_guarded(c_n, c_before);
    test::DeviceBytes h0(h0_host), c0(c0_host);
    test::DeviceArray<std::int32_t> d_len(N);
    LSTMRT_TEST_CUDA(cudaMemcpy(d_len.get(), lengths.data(), N * 4, cudaMemcpyHostToDevice));
    kernels::RestoreStatesParams p{h_n.mem.get(),
                                   c_n.mem.get(),
                                   with_initial ? h0.mem.get() : nullptr,
                                   with_initial ? c0.mem.get() : nullptr,
                                   d_len.get(),
                                   S,
                                   N,
                                   HW,
                                   CW,
                                   e};
    kernels::launch_restore_states(p, stream());
    LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
    const std::vector<unsigned char> none;
    const std::string what = fmt::format("restore_states S={} N={} {}/{} initial={}", S, N, HW, CW, with_initial);
    ASSERT_TRUE(
        test::bytes_match(test::expected_restore_states(p, HW, h_before, with_initial ? h0_host : none, lengths),
                          h_n.download(), "h_n of " + what));
    ASSERT_TRUE(
        test::bytes_match(test::expected_restore_states(p, CW, c_before, with_initial ? c0_host : none, lengths),
                          c_n.download(), "c_n of " + what));
  }
}

}  // namespace
}  // namespace lstmrt
