// The CPU SIMT executor: runs lstmrt's CUDA kernels — their own source, compiled by the host
// compiler against kernels/device.cuh with LSTMRT_SIMT — one fiber per CUDA thread. Test
// infrastructure (tests/simt), never installed.
//
// Model of the device
//   - Every block of a launch is resident at once (a cooperative or cluster launch larger than the
//     configured DeviceFacts allow is refused with the CUDA error a GPU gives: the launch arithmetic
//     of the launchers is exercised, not bypassed).
//   - Fibers (Boost.Context fcontext, one stack each with a guard page) run one at a time on the
//     calling thread, so memory is sequentially consistent: memory-ordering bugs (a relaxed store
//     where a release is needed) are NOT found here; they need a GPU (scripts/gpu-check).
//   - The scheduler switches at every synchronisation point: block barrier, cluster barrier, warp
//     shuffle, spin-loop poll (the exchange's relaxed / acquire loads), sleep. It picks the next
//     fiber with a seeded RNG; the seed also picks how "sticky" blocks are (seed % 4: 0, 50, 90,
//     99 % chance of staying in the same block), so some schedules keep blocks in lock step and
//     others let one block run far ahead of the rest.
//   - %globaltimer is a virtual clock: +1 ns per switch; __nanosleep advances the sleeper's wake time.
//     When every runnable fiber only polls without anything changing (no store, barrier or exit
//     since its last kIdlePolls polls), the clock jumps ahead (1 µs, doubling), so a kernel's own
//     bounded wait gives up as it would on a GPU; after DeviceFacts::deadlock_ns of such virtual
//     time, or at once when no fiber can run at all, the launch fails as a deadlock.
//
// What it reports (KernelFault, with kernel, block, thread and the kernel's processing step where
// known — dev::note_step): threads of one block at different barriers; a barrier while some thread
// of the block (or cluster) has exited; a shuffle whose mask names a lane that exited, waits at a
// barrier, uses another mask or reads a lane outside the mask; deadlock (told apart from a kernel
// that gives up by itself: that launch completes and the kernel reports through its own status);
// shared memory out of bounds or misaligned; reads of shared memory not written in this launch;
// races: a shared-memory byte written by one thread and read or written by another (or read by
// one and written by another) with no block barrier between them — volatile and atomic accesses
// and cluster (DSMEM) accesses through map_shared_rank are exempt (their order is the exchange
// protocol's, checked by its results). Dynamic shared memory is an exact-size heap allocation, so
// AddressSanitizer backs up the bounds check.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace lstmrt::simt {

// What the executor models. Defaults: an H200-like device; tests shrink sm_count to get several
// blocks per launch on small models.
struct DeviceFacts {
  int sm_count = 132;
  int sms_per_gpc = 16;  // clusters never span GPCs
  int max_threads_per_block = 1024;
  int max_threads_per_sm = 2048;
  int max_blocks_per_sm = 32;
  int registers_per_sm = 65536;
  int registers_per_thread = 255;  // assumed for every kernel (the persistent kernels' budget)
  int smem_per_sm = 233472;
  int smem_per_block_optin = 232448;   // with cudaFuncAttributeMaxDynamicSharedMemorySize
  int smem_per_block_default = 49152;  // dynamic + static without the attribute
  int max_cluster_size = 16;           // with cudaFuncAttributeNonPortableClusterSizeAllowed
  int portable_cluster_size = 8;
  int cooperative_launch = 1;
  int cluster_launch = 1;
  std::int64_t deadlock_ns = 30'000'000'000;  // virtual time of fruitless polling before a deadlock
};

// The device facts and schedule seed every launch uses; restored when it goes out of scope.
class ScopedDevice {
 public:
  explicit ScopedDevice(const DeviceFacts& facts, std::uint64_t seed = 1);
  ~ScopedDevice();
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;

 private:
  DeviceFacts saved_facts_;
  std::uint64_t saved_seed_;
};
const DeviceFacts& device_facts();
void set_schedule_seed(std::uint64_t seed);  // the next launches' seed (each launch derives its own)

enum class FaultKind {
  kBarrierDivergence,   // threads of a block (or cluster) wait at different barriers
  kBarrierAfterExit,    // a barrier with a thread of the block (or cluster) already exited
  kShuffleMissingLane,  // a shuffle's mask names a lane that exited or waits at a barrier
  kShuffleMismatch,     // lanes of one shuffle disagree (mask, site) or read outside the mask
  kDeadlock,            // no fiber can make progress
  kSharedOutOfBounds,
  kSharedMisaligned,
  kSharedUninitialized,  // a read of shared memory nothing wrote in this launch
  kSharedRace,           // two threads touch a byte (one writes) with no barrier between
  kClusterRank,          // map_shared_rank outside the cluster
  kSharedTooLarge,       // static + dynamic shared memory beyond the device's limit
  kKernelException,      // the kernel code threw
};
const char* to_string(FaultKind kind);

// An execution fault of a launch. what(): "simt: <kernel> block B thread T step S: <detail>".
class KernelFault : public std::runtime_error {
 public:
  KernelFault(FaultKind kind, const std::string& kernel, int block, int thread, int step, const std::string& detail);
  FaultKind kind() const { return kind_; }
  const std::string& kernel() const { return kernel_; }
  int block() const { return block_; }    // -1: not one block's (deadlock)
  int thread() const { return thread_; }  // -1: not one thread's
  int step() const { return step_; }      // -1: unknown

 private:
  FaultKind kind_;
  std::string kernel_;
  int block_, thread_, step_;
};

// Where a synchronisation primitive was called (error reports).
struct Site {
  const char* file = "?";
  int line = 0;
};

using KernelId = void (*)();
struct LaunchRequest {
  const char* name = "kernel";
  KernelId kernel = nullptr;
  unsigned grid = 1, block = 1;
  std::size_t dynamic_smem = 0;
  bool cooperative = false;
  unsigned cluster = 0;  // 0: no cluster launch (every block its own cluster of one)
};

// Counters of the last completed launch (tests assert a launch really interleaved).
struct LaunchStats {
  std::uint64_t switches = 0, polls = 0, clock_jumps = 0;
  std::int64_t virtual_ns = 0;
  unsigned blocks = 0, threads_per_block = 0;
};
const LaunchStats& last_launch_stats();

// Runs `body` (the kernel call with its copied parameters) in every thread of the launch.
// Returns cudaSuccess, or the CUDA error a GPU gives for a launch it refuses (configuration,
// shared memory, cooperative size, cluster size). Throws KernelFault for an execution fault.
cudaError_t launch(const LaunchRequest& request, const std::function<void()>& body);

// Runtime queries of the launchers (kernels/device.cuh), answered from the DeviceFacts.
cudaError_t func_set_attribute(KernelId kernel, cudaFuncAttribute attr, int value);
int func_static_smem(KernelId kernel);  // bytes of static shared memory seen in its launches so far
cudaError_t device_attribute(int* value, cudaDeviceAttr attr, int device);
int occupancy_blocks_per_sm(KernelId kernel, int block_threads, std::size_t dynamic_smem);
int occupancy_active_clusters(KernelId kernel, unsigned block_threads, std::size_t dynamic_smem, unsigned cluster);
int occupancy_potential_cluster_size(KernelId kernel, unsigned block_threads, std::size_t dynamic_smem);

// ---- entry points of the device primitives (simt_device.hpp); valid inside a launch only ---------
unsigned thread_x();
unsigned block_x();
unsigned block_dim_x();
unsigned grid_dim_x();
void note_step(int step);
void sync_block(Site site);
void cluster_sync(Site site);
std::uint64_t shuffle_xor(unsigned mask, std::uint64_t bits, int lane_mask, Site site);
void poll(Site site);  // a spin-loop poll: a switch point that also feeds the stall detector
void progress();       // something other threads may wait for happened (a store, an atomic)
void sleep_ns(unsigned ns, Site site);
std::uint64_t global_timer_ns();

// Shared memory: one region per block and declaration (the dynamic one, or a static array).
struct SharedRegion;
SharedRegion* dynamic_shared(std::size_t align);
SharedRegion* static_shared(const void* declaration, std::size_t bytes, std::size_t align, const char* name);
unsigned char* region_base(const SharedRegion* region);
// The same offset in the region of cluster block `rank`.
SharedRegion* map_region(const SharedRegion* region, const void* address, int rank, const void** mapped);
// Checks one access of `bytes` bytes at `address` and records it; `exempt`: volatile, atomic or
// DSMEM (no race check); `mapped`: through a map_shared_rank address.
void shared_access(SharedRegion* region, const void* address, std::size_t bytes, bool write, bool exempt, bool mapped);

}  // namespace lstmrt::simt
