// The SIMT executor itself (executor.hpp) on small kernels written against kernels/device.cuh like
// the real ones: barriers, shuffles, shared memory, clusters and polls compute what a GPU would;
// schedules really interleave, differ between seeds and repeat for one seed; every fault it
// promises is reported with its kind, block and thread; launches a GPU refuses are refused.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/device.cuh"
#include "lstmrt/error.hpp"
#include "simt/executor.hpp"

namespace lstmrt {
namespace {

namespace dev = kernels::dev;
using simt::FaultKind;
using simt::KernelFault;

simt::DeviceFacts small_device() {
  simt::DeviceFacts f;
  f.sm_count = 8;
  f.sms_per_gpc = 4;
  return f;
}

// Expects `launch` to fault with `kind`; returns the fault.
template <typename F>
KernelFault expect_fault(F&& launch, FaultKind kind) {
  try {
    launch();
  } catch (const KernelFault& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    return e;
  }
  ADD_FAILURE() << "no fault; expected " << simt::to_string(kind);
  return KernelFault(kind, "none", -1, -1, -1, "none");
}

// ---- a block reduction: shared memory, barriers, shuffles --------------------------------------

struct SumParams {
  const float* in;
  float* out;  // one per block
  int per_block;
};

__global__ void block_sum_kernel(SumParams p) {
  LSTMRT_STATIC_SHARED(float, partial, 8);
  const int t = static_cast<int>(dev::thread_x()), warp = t / 32, lane = t % 32;
  float v = 0.0f;
  for (int i = t; i < p.per_block; i += static_cast<int>(dev::block_dim_x()))
    v += p.in[static_cast<int>(dev::block_x()) * p.per_block + i];
  for (int offset = 16; offset > 0; offset >>= 1) v += dev::shfl_xor(0xffffffffu, v, offset);
  if (lane == 0) partial[warp] = v;
  dev::sync_block();
  if (t == 0) {
    float s = 0.0f;
    for (int w = 0; w < static_cast<int>(dev::block_dim_x()) / 32; ++w) s += partial[w];
    p.out[dev::block_x()] = s;
  }
}

TEST(SimtExecutor, BlockReductionIsRightOnEverySchedule) {
  const int blocks = 5, per_block = 1000;
  std::vector<float> in(blocks * per_block);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i % 7) - 3.0f;
  std::vector<std::uint64_t> switches;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    simt::ScopedDevice device(small_device(), seed);
    std::vector<float> out(blocks, -1.0f);
    dev::LaunchShape shape;
    shape.grid = blocks;
    shape.block = 256;
    dev::launch("block_sum_kernel", block_sum_kernel, shape, SumParams{in.data(), out.data(), per_block});
    for (int b = 0; b < blocks; ++b) {
      float want = 0.0f;
      for (int i = 0; i < per_block; ++i) want += in[b * per_block + i];
      EXPECT_FLOAT_EQ(out[b], want) << "block " << b << " seed " << seed;
    }
    const simt::LaunchStats& s = simt::last_launch_stats();
    EXPECT_EQ(s.blocks, 5u);
    EXPECT_GT(s.switches, 5u * 256 * 6) << "every shuffle and the barrier are switch points";
    switches.push_back(s.switches);
  }
}

// Where each thread of a block lands in the arrival order at a barrier-free ticket counter.
struct OrderParams {
  int* order;
  int* counter;
};
__global__ void arrival_kernel(OrderParams p) {
  dev::sleep_ns(1);  // a switch point before taking the ticket
  p.order[*p.counter] = static_cast<int>(dev::block_x() * dev::block_dim_x() + dev::thread_x());
  ++*p.counter;
}

std::vector<int> arrival_order(std::uint64_t seed) {
  simt::ScopedDevice device(small_device(), seed);
  std::vector<int> order(4 * 64, -1);
  int counter = 0;
  dev::LaunchShape shape;
  shape.grid = 4;
  shape.block = 64;
  dev::launch("arrival_kernel", arrival_kernel, shape, OrderParams{order.data(), &counter});
  EXPECT_EQ(counter, 4 * 64);
  return order;
}

TEST(SimtExecutor, SchedulesAreSeededAndDiffer) {
  // Launch seeds derive from the schedule seed and a launch counter: compare whole sequences.
  const std::vector<int> a = arrival_order(11), b = arrival_order(12), c = arrival_order(13);
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  std::vector<int> identity(a.size());
  for (std::size_t i = 0; i < identity.size(); ++i) identity[i] = static_cast<int>(i);
  EXPECT_NE(a, identity) << "threads run in a shuffled order, not thread order";
}

// ---- faults -----------------------------------------------------------------------------------

__global__ void divergent_barrier_kernel(int) {
  if (dev::thread_x() < 100) {
    dev::sync_block();
  } else {
    dev::sync_block();
  }
}

TEST(SimtExecutor, BarrierDivergence) {
  simt::ScopedDevice device(small_device(), 3);
  dev::LaunchShape shape;
  shape.grid = 2;
  shape.block = 128;
  const KernelFault f =
      expect_fault([&] { dev::launch("divergent_barrier_kernel", divergent_barrier_kernel, shape, 0); },
                   FaultKind::kBarrierDivergence);
  EXPECT_GE(f.block(), 0);
  EXPECT_GE(f.thread(), 0);
  EXPECT_NE(std::string(f.what()).find("divergent_barrier_kernel"), std::string::npos) << f.what();
  EXPECT_NE(std::string(f.what()).find("test_simt_executor.cpp:"), std::string::npos) << f.what();
}

__global__ void exit_then_barrier_kernel(int quitter) {
  if (static_cast<int>(dev::thread_x()) == quitter) return;
  dev::sync_block();
}

TEST(SimtExecutor, BarrierAfterExit) {
  for (std::uint64_t seed : {1, 2, 3, 4}) {
    simt::ScopedDevice device(small_device(), seed);
    dev::LaunchShape shape;
    shape.block = 64;
    expect_fault([&] { dev::launch("exit_then_barrier_kernel", exit_then_barrier_kernel, shape, 17); },
                 FaultKind::kBarrierAfterExit);
  }
}

__global__ void shuffle_missing_lane_kernel(float* out) {
  const int lane = static_cast<int>(dev::thread_x()) % 32;
  if (lane == 3) return;
  out[dev::thread_x()] = dev::shfl_xor(0xffffffffu, 1.0f, 1);
}

TEST(SimtExecutor, ShuffleWithAnExitedLane) {
  for (std::uint64_t seed : {1, 2, 3, 4}) {
    simt::ScopedDevice device(small_device(), seed);
    std::vector<float> out(64);
    dev::LaunchShape shape;
    shape.block = 64;
    const KernelFault f = expect_fault(
        [&] { dev::launch("shuffle_missing_lane_kernel", shuffle_missing_lane_kernel, shape, out.data()); },
        FaultKind::kShuffleMissingLane);
    EXPECT_NE(std::string(f.what()).find("lane"), std::string::npos) << f.what();
  }
}

__global__ void shuffle_mask_mismatch_kernel(float* out) {
  const int lane = static_cast<int>(dev::thread_x()) % 32;
  const unsigned mask = lane < 16 ? 0xffffffffu : 0xffff0000u;
  out[dev::thread_x()] = dev::shfl_xor(mask, 1.0f, 1);
}

__global__ void shuffle_outside_mask_kernel(float* out) {
  const int lane = static_cast<int>(dev::thread_x()) % 32;
  if (lane < 16) out[dev::thread_x()] = dev::shfl_xor(0x0000ffffu, 1.0f, 16);  // reads lane ^ 16: not in the mask
}

TEST(SimtExecutor, ShuffleMismatchedMasksAndLanesOutsideTheMask) {
  simt::ScopedDevice device(small_device(), 5);
  std::vector<float> out(32);
  dev::LaunchShape shape;
  shape.block = 32;
  expect_fault([&] { dev::launch("shuffle_mask_mismatch_kernel", shuffle_mask_mismatch_kernel, shape, out.data()); },
               FaultKind::kShuffleMismatch);
  expect_fault([&] { dev::launch("shuffle_outside_mask_kernel", shuffle_outside_mask_kernel, shape, out.data()); },
               FaultKind::kShuffleMismatch);
}

// Half a warp shuffles among itself (mask 0x0000ffff): a partial-mask shuffle is fine.
__global__ void partial_shuffle_kernel(float* out) {
  const int lane = static_cast<int>(dev::thread_x()) % 32;
  if (lane < 16) out[lane] = dev::shfl_xor(0x0000ffffu, static_cast<float>(lane), 1);
}

TEST(SimtExecutor, PartialMaskShuffle) {
  simt::ScopedDevice device(small_device(), 6);
  std::vector<float> out(16, -1.0f);
  dev::LaunchShape shape;
  shape.block = 32;
  dev::launch("partial_shuffle_kernel", partial_shuffle_kernel, shape, out.data());
  for (int l = 0; l < 16; ++l) EXPECT_EQ(out[l], static_cast<float>(l ^ 1));
}

// Block 0 waits for a flag block 1 never sets: with a time bound the kernel gives up by itself
// (the launch completes); without one the executor reports a deadlock.
struct WaitParams {
  const std::uint64_t* flag;
  int* gave_up;
  std::int64_t timeout_ns;  // <= 0: wait forever
};
__global__ void wait_kernel(WaitParams p) {
  if (dev::block_x() != 0) return;
  const std::uint64_t start = dev::global_timer_ns();
  while (dev::load_relaxed_gpu(p.flag) == 0) {
    if (p.timeout_ns > 0 && static_cast<std::int64_t>(dev::global_timer_ns() - start) > p.timeout_ns) {
      p.gave_up[dev::thread_x()] = 1;
      return;
    }
  }
}

TEST(SimtExecutor, BoundedWaitGivesUpUnboundedWaitDeadlocks) {
  simt::DeviceFacts facts = small_device();
  facts.deadlock_ns = 1'000'000'000;
  simt::ScopedDevice device(facts, 7);
  const std::uint64_t flag = 0;
  std::vector<int> gave_up(32, 0);
  dev::LaunchShape shape;
  shape.grid = 2;
  shape.block = 32;
  dev::launch("wait_kernel", wait_kernel, shape, WaitParams{&flag, gave_up.data(), 500'000});
  for (int v : gave_up) EXPECT_EQ(v, 1);
  EXPECT_GT(simt::last_launch_stats().clock_jumps, 0u);
  EXPECT_GE(simt::last_launch_stats().virtual_ns, 500'000);
  const KernelFault f = expect_fault(
      [&] {
        dev::launch("wait_kernel", wait_kernel, shape, WaitParams{&flag, gave_up.data(), 0});
      },
      FaultKind::kDeadlock);
  EXPECT_NE(std::string(f.what()).find("polling at test_simt_executor.cpp"), std::string::npos) << f.what();
}

__global__ void barrier_deadlock_kernel(std::uint64_t* flag) {
  // Thread 0 waits at the barrier while the others spin on a word thread 0 sets only after it.
  if (dev::thread_x() == 0) {
    dev::sync_block();
    dev::store_relaxed_gpu(flag, 1);
  } else {
    while (dev::load_relaxed_gpu(flag) != 1) {
    }
  }
}

TEST(SimtExecutor, DeadlockBetweenABarrierAndASpin) {
  simt::DeviceFacts facts = small_device();
  facts.deadlock_ns = 100'000'000;
  simt::ScopedDevice device(facts, 8);
  dev::LaunchShape shape;
  shape.block = 32;
  std::uint64_t flag = 0;
  const KernelFault f = expect_fault(
      [&] { dev::launch("barrier_deadlock_kernel", barrier_deadlock_kernel, shape, &flag); }, FaultKind::kDeadlock);
  EXPECT_NE(std::string(f.what()).find("at the barrier"), std::string::npos) << f.what();
}

struct SmemParams {
  int mode;  // 0: out of bounds, 1: read before any write, 2: race, 3: fine
  float* out;
};
__global__ void smem_kernel(SmemParams p) {
  LSTMRT_DYNAMIC_SHARED(unsigned char, smem, 16);
  const dev::SharedPtr<float> f = dev::shared_cast<float>(smem);
  const int t = static_cast<int>(dev::thread_x());
  switch (p.mode) {
    case 0: f[t + 1] = 1.0f; break;  // 32 floats of dynamic shared memory, thread 31 writes [32]
    case 1: p.out[t] = f[t]; break;
    case 2:
      f[t] = 0.0f;
      dev::sync_block();
      f[t] = static_cast<float>(t);
      p.out[t] = f[(t + 1) % 32];  // no barrier between the other thread's write and this read
      break;
    default:
      f[t] = static_cast<float>(t);
      dev::sync_block();
      p.out[t] = f[(t + 1) % 32];
      dev::sync_block();
      f[t] = 0.0f;  // rewritten after a barrier: no race with the reads before it
  }
}

TEST(SimtExecutor, SharedMemoryChecks) {
  simt::ScopedDevice device(small_device(), 9);
  std::vector<float> out(32, -1.0f);
  dev::LaunchShape shape;
  shape.block = 32;
  shape.dynamic_smem = 32 * sizeof(float);
  auto run = [&](int mode) { dev::launch("smem_kernel", smem_kernel, shape, SmemParams{mode, out.data()}); };
  const KernelFault oob = expect_fault([&] { run(0); }, FaultKind::kSharedOutOfBounds);
  EXPECT_EQ(oob.thread(), 31);
  expect_fault([&] { run(1); }, FaultKind::kSharedUninitialized);
  for (std::uint64_t seed : {1, 2, 3, 4}) {
    simt::set_schedule_seed(seed);
    expect_fault([&] { run(2); }, FaultKind::kSharedRace);
  }
  run(3);
  for (int t = 0; t < 32; ++t) EXPECT_EQ(out[t], static_cast<float>((t + 1) % 32));
}

// Cluster: every block writes its rank into slot [rank] of every block of its cluster, then a
// cluster barrier, then each block sums its slots.
__global__ void cluster_kernel(int* out) {
  LSTMRT_DYNAMIC_SHARED(unsigned char, smem, 16);
  const dev::SharedPtr<int> slots = dev::shared_cast<int>(smem);
  const int cluster = 4, rank = static_cast<int>(dev::block_x()) % cluster, t = static_cast<int>(dev::thread_x());
  if (t < cluster) *dev::map_shared_rank(slots + rank, t) = rank + 10 * (static_cast<int>(dev::block_x()) / cluster);
  dev::cluster_sync();
  if (t == 0) {
    int s = 0;
    for (int r = 0; r < cluster; ++r) s += slots[r];
    out[dev::block_x()] = s;
  }
  dev::cluster_sync();
}

__global__ void cluster_rank_kernel(int) {
  LSTMRT_DYNAMIC_SHARED(unsigned char, smem, 16);
  *dev::map_shared_rank(dev::shared_cast<int>(smem), 4) = 1;
}

TEST(SimtExecutor, ClusterSharedMemory) {
  simt::ScopedDevice device(small_device(), 10);
  std::vector<int> out(8, -1);
  dev::LaunchShape shape;
  shape.grid = 8;
  shape.block = 32;
  shape.dynamic_smem = 16;
  shape.cluster = 4;
  dev::launch("cluster_kernel", cluster_kernel, shape, out.data());
  for (int b = 0; b < 8; ++b) EXPECT_EQ(out[b], 0 + 1 + 2 + 3 + 40 * (b / 4)) << b;
  expect_fault([&] { dev::launch("cluster_rank_kernel", cluster_rank_kernel, shape, 0); }, FaultKind::kClusterRank);
}

__global__ void throwing_kernel(int) {
  if (dev::thread_x() == 7) throw std::runtime_error("boom");
}

TEST(SimtExecutor, KernelExceptionIsAFault) {
  simt::ScopedDevice device(small_device(), 1);
  dev::LaunchShape shape;
  shape.block = 32;
  const KernelFault f =
      expect_fault([&] { dev::launch("throwing_kernel", throwing_kernel, shape, 0); }, FaultKind::kKernelException);
  EXPECT_EQ(f.thread(), 7);
  EXPECT_NE(std::string(f.what()).find("boom"), std::string::npos);
}

// ---- launches a GPU refuses ---------------------------------------------------------------------

__global__ void empty_kernel(int) {}

template <typename F>
void expect_cuda_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCudaError) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SimtExecutor, RefusesWhatAGpuRefuses) {
  simt::ScopedDevice device(small_device(), 1);
  dev::LaunchShape shape;
  shape.block = 256;
  // Cooperative: 8 SMs × 1 block of 256 threads at 255 registers each.
  shape.cooperative = true;
  shape.grid = 8;
  dev::launch("empty_kernel", empty_kernel, shape, 0);
  shape.grid = 9;
  expect_cuda_error([&] { dev::launch("empty_kernel", empty_kernel, shape, 0); }, "cudaErrorCooperativeLaunchTooLarge");
  EXPECT_EQ(dev::occupancy_blocks_per_sm(empty_kernel, 256, 0), 1);
  // Clusters: 8 is portable; 12 needs the non-portable attribute; a grid not divisible by it fails.
  shape.cooperative = false;
  shape.grid = 12;
  shape.cluster = 12;
  expect_cuda_error([&] { dev::launch("empty_kernel", empty_kernel, shape, 0); }, "cudaErrorInvalidClusterSize");
  shape.cluster = 8;
  shape.grid = 12;
  expect_cuda_error([&] { dev::launch("empty_kernel", empty_kernel, shape, 0); }, "cudaErrorInvalidClusterSize");
  // A cluster larger than a GPC's SMs can hold.
  shape.grid = 8;
  shape.cluster = 8;
  expect_cuda_error([&] { dev::launch("empty_kernel", empty_kernel, shape, 0); }, "cudaErrorInvalidClusterSize");
  EXPECT_EQ(dev::occupancy_potential_cluster_size(empty_kernel, shape), 4);
  // Dynamic shared memory beyond 48 KiB needs the attribute; beyond the opt-in limit it fails.
  shape.cluster = 0;
  shape.grid = 1;
  shape.dynamic_smem = 64 << 10;
  expect_cuda_error([&] { dev::launch("empty_kernel", empty_kernel, shape, 0); }, "cudaErrorInvalidValue");
  dev::func_set_attribute(empty_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 << 10);
  dev::launch("empty_kernel", empty_kernel, shape, 0);
  expect_cuda_error(
      [&] { dev::func_set_attribute(empty_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 300 << 10); },
      "cudaErrorInvalidValue");
  shape.block = 2048;
  expect_cuda_error([&] { dev::launch("empty_kernel", empty_kernel, shape, 0); }, "cudaErrorInvalidConfiguration");
  EXPECT_EQ(dev::device_attribute(cudaDevAttrMultiProcessorCount, 0), 8);
}

}  // namespace
}  // namespace lstmrt
