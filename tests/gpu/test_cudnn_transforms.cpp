// The cudnn backend's transform kernels on the device against a host loop over the same index maps
// (kernels/cudnn_transforms.hpp): random shapes, both layouts, 2- and 4-byte elements, lengths with
// 0 and T, in place and from scratch; destinations poisoned with guard bytes after them.
#include <cstring>

#include "cudnn_test_util.hpp"
#include "kernels/cudnn_transforms.hpp"

namespace lstmrt {
namespace {

constexpr std::size_t kGuardBytes = 256;

class CudnnTransforms : public test::GpuTest {
 protected:
  std::mt19937_64 rng_{test::test_seed()};
  std::uniform_int_distribution<int> pick_{0, 1 << 30};

  std::vector<unsigned char> random_bytes(std::size_t n) {
    std::vector<unsigned char> v(n);
    for (auto& b : v) b = static_cast<unsigned char>(rng_() & 0x7F);  // never 0xFF (poison)
    return v;
  }
  std::vector<std::int32_t> random_lengths(int N, int T, bool allow_zero) {
    std::vector<std::int32_t> v(N);
    for (auto& l : v) l = allow_zero ? pick_(rng_) % (T + 1) : 1 + pick_(rng_) % T;
    return v;
  }
  // Uploads `host` into `d` (host.size() + kGuardBytes long), the guard poisoned.
  void upload_guarded(test::DeviceBytes& d, const std::vector<unsigned char>& host) {
    d.poison();
    if (!host.empty()) cudaMemcpy(d.mem.get(), host.data(), host.size(), cudaMemcpyHostToDevice);
  }
  void expect_guard_intact(const std::vector<unsigned char>& got, std::size_t payload) {
    for (std::size_t i = payload; i < got.size(); ++i) ASSERT_EQ(got[i], 0xFF) << "wrote past the end at byte " << i;
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
    const auto got = dst.download();
    for (int s = 0; s < T; ++s)
      for (int b = 0; b < N; ++b) {
        const std::size_t want_at = kernels::sequence_vector(kernels::reversed_input_step(s, lengths[b]), b, T, N, bm) * C * e;
        const std::size_t got_at = kernels::sequence_vector(s, b, T, N, bm) * C * e;
        ASSERT_EQ(std::memcmp(&got[got_at], &src_host[want_at], std::size_t(C) * e), 0)
            << "step " << s << " row " << b << " (T " << T << " N " << N << " C " << C << ")";
      }
    expect_guard_intact(got, src_host.size());
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
    const auto got = in_place ? src.download() : dst.download();
    const std::size_t vec = std::size_t(D) * W * e;
    for (int t = 0; t < T; ++t)
      for (int b = 0; b < N; ++b)
        for (int d = 0; d < D; ++d) {
          const int s = kernels::output_source_step(t, lengths[b], T, p.reversed_run, p.processing,
                                                    p.carry_last && !p.slot_reverse[d]);
          const std::size_t at = kernels::sequence_vector(t, b, T, N, p.batch_major) * vec + std::size_t(d) * W * e;
          std::vector<unsigned char> want(std::size_t(W) * e, 0);
          if (s >= 0)
            std::memcpy(want.data(), &src_host[kernels::sequence_vector(s, b, T, N, p.batch_major) * vec + std::size_t(d) * W * e],
                        want.size());
          ASSERT_EQ(std::memcmp(&got[at], want.data(), want.size()), 0)
              << "t " << t << " b " << b << " d " << d << " len " << lengths[b] << " in_place " << in_place
              << " reversed " << p.reversed_run << " processing " << p.processing << " carry " << p.carry_last;
        }
    expect_guard_intact(got, bytes);
  }
}

TEST_F(CudnnTransforms, RestoreStatesTouchesOnlyZeroLengthRows) {
  for (int trial = 0; trial < 20; ++trial) {
    const int S = 1 + pick_(rng_) % 4, N = 1 + pick_(rng_) % 7, HW = 1 + pick_(rng_) % 9, CW = HW + pick_(rng_) % 5;
    const int e = pick_(rng_) % 2 ? 4 : 2;
    const bool with_initial = pick_(rng_) % 2;
    const auto lengths = random_lengths(N, 3, true);
    const auto h_before = random_bytes(std::size_t(S) * N * HW * e), c_before = random_bytes(std::size_t(S) * N * CW * e);
    const auto h0_host = random_bytes(h_before.size()), c0_host = random_bytes(c_before.size());
    test::DeviceBytes h_n(h_before.size() + kGuardBytes), c_n(c_before.size() + kGuardBytes);
    upload_guarded(h_n, h_before);
    upload_guarded(c_n, c_before);
    test::DeviceBytes h0(h0_host), c0(c0_host);
    test::DeviceArray<std::int32_t> d_len(N);
    LSTMRT_TEST_CUDA(cudaMemcpy(d_len.get(), lengths.data(), N * 4, cudaMemcpyHostToDevice));
    kernels::RestoreStatesParams p{h_n.mem.get(), c_n.mem.get(), with_initial ? h0.mem.get() : nullptr,
                                   with_initial ? c0.mem.get() : nullptr, d_len.get(), S, N, HW, CW, e};
    kernels::launch_restore_states(p, stream());
    LSTMRT_TEST_CUDA(cudaStreamSynchronize(stream()));
    const auto h_got = h_n.download(), c_got = c_n.download();
    for (int slot = 0; slot < S; ++slot)
      for (int b = 0; b < N; ++b) {
        const std::size_t hat = (std::size_t(slot) * N + b) * HW * e, cat = (std::size_t(slot) * N + b) * CW * e;
        const bool zero = lengths[b] == 0;
        for (std::size_t k = 0; k < std::size_t(HW) * e; ++k)
          ASSERT_EQ(h_got[hat + k], zero ? (with_initial ? h0_host[hat + k] : 0) : h_before[hat + k]) << "h slot " << slot << " row " << b;
        for (std::size_t k = 0; k < std::size_t(CW) * e; ++k)
          ASSERT_EQ(c_got[cat + k], zero ? (with_initial ? c0_host[cat + k] : 0) : c_before[cat + k]) << "c slot " << slot << " row " << b;
      }
    expect_guard_intact(h_got, h_before.size());
    expect_guard_intact(c_got, c_before.size());
  }
}

}  // namespace
}  // namespace lstmrt
