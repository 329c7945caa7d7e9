// The device-primitives layer: everything a kernel in kernels/ needs that plain C++ cannot say —
// thread / block / grid indices, the block barrier, warp shuffles, shared memory (static and
// dynamic), thread-block clusters (map_shared_rank, cluster sync), the exchange's relaxed /
// acquire / release memory operations and fences, atomics, %globaltimer, __nanosleep, bit casts,
// the bf16 register unpack, fast-math intrinsics — and the launch / attribute / occupancy runtime
// calls of the launchers. Kernels and launchers use only these names (namespace dev), never the
// CUDA builtins directly, so ONE source compiles two ways:
//
//   nvcc (__CUDACC__)  every primitive is a __device__ __forceinline__ one-liner around the CUDA
//                      builtin, inline asm or runtime call the kernels used before this layer
//                      existed: the generated code is the same (scripts/check-ptxas: no spills,
//                      same registers), SharedPtr<T> is T*, the launch is `<<<>>>` or
//                      cudaLaunchKernelEx followed by the launch-error check.
//   g++ + LSTMRT_SIMT  the same names bind to the CPU SIMT executor (tests/simt/, test
//                      infrastructure, never installed): each CUDA thread is a fiber, blocks of a
//                      launch are all resident, barriers / shuffles / polls / sleeps are real
//                      synchronisation points of a seeded random scheduler, shared memory is
//                      checked (bounds, reads of bytes not written in this launch, races between
//                      barriers), %globaltimer is a virtual clock. tests/simt/simt_device.hpp
//                      declares the bindings.
//
// Conventions: a primitive that synchronises or polls takes no extra arguments under nvcc; under
// SIMT it records its call site (__builtin_FILE / __builtin_LINE default arguments) for error
// reports. note_step(s) tells the executor the kernel's processing step for its reports (nothing
// under nvcc).
#pragma once

#include <stddef.h>
#include <stdint.h>

#if defined(__CUDACC__)

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <utility>

#include "common/cuda_check.hpp"

#define LSTMRT_DEVICE __device__ __forceinline__

// Shared-memory declarations inside a kernel: dynamic = the launch's dynamicSmemBytes, `align`
// bytes aligned; static = `count` elements of `type`. `name` is then usable as a SharedPtr.
// (clang-format would split this declaration over three lines)
// clang-format off
#define LSTMRT_DYNAMIC_SHARED(type, name, align) extern __shared__ __align__(align) type name[]
// clang-format on
#define LSTMRT_STATIC_SHARED(type, name, count) __shared__ type name[count]

namespace lstmrt::kernels::dev {

// A pointer into shared memory (the block's own, or a cluster peer's from map_shared_rank).
template <typename T>
using SharedPtr = T*;
template <typename T, typename U>
LSTMRT_DEVICE SharedPtr<T> shared_cast(SharedPtr<U> p) {
  return reinterpret_cast<T*>(p);
}

// ---- indices (unsigned, as the builtins) --------------------------------------------------------
LSTMRT_DEVICE unsigned thread_x() { return threadIdx.x; }
LSTMRT_DEVICE unsigned block_x() { return blockIdx.x; }
LSTMRT_DEVICE unsigned block_dim_x() { return blockDim.x; }
LSTMRT_DEVICE unsigned grid_dim_x() { return gridDim.x; }
LSTMRT_DEVICE void note_step(int) {}

// ---- synchronisation ----------------------------------------------------------------------------
LSTMRT_DEVICE void sync_block() { __syncthreads(); }
template <typename T>
LSTMRT_DEVICE T shfl_xor(unsigned mask, T v, int lane_mask) {
  return __shfl_xor_sync(mask, v, lane_mask);
}
LSTMRT_DEVICE void cluster_sync() { cooperative_groups::this_cluster().sync(); }
// The address of `p` (this block's shared memory) in the shared memory of cluster block `rank`.
template <typename T>
LSTMRT_DEVICE SharedPtr<T> map_shared_rank(SharedPtr<T> p, int rank) {
  return cooperative_groups::this_cluster().map_shared_rank(p, rank);
}

// ---- memory operations of the exchanges ---------------------------------------------------------
LSTMRT_DEVICE uint64_t load_relaxed_gpu(const uint64_t* p) {
  uint64_t v;
  asm volatile("ld.relaxed.gpu.global.b64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  return v;
}
LSTMRT_DEVICE void store_relaxed_gpu(uint64_t* p, uint64_t v) {
  asm volatile("st.relaxed.gpu.global.b64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}
// Acquire load of this block's own shared memory (a tag a cluster peer release-stored).
LSTMRT_DEVICE int32_t load_acquire_cluster_shared(SharedPtr<const int32_t> p) {
  const unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(p));
  int32_t v;
  asm volatile("ld.acquire.cluster.shared::cta.b32 %0, [%1];" : "=r"(v) : "r"(address) : "memory");
  return v;
}
// Release store through a map_shared_rank address (any block of the cluster).
LSTMRT_DEVICE void store_release_cluster(SharedPtr<int32_t> generic, int32_t v) {
  asm volatile("st.release.cluster.b32 [%0], %1;" ::"l"(generic), "r"(v) : "memory");
}
LSTMRT_DEVICE void fence_acq_rel_cluster() { asm volatile("fence.acq_rel.cluster;" ::: "memory"); }
LSTMRT_DEVICE void threadfence_system() { __threadfence_system(); }
LSTMRT_DEVICE int32_t atomic_cas(int32_t* p, int32_t compare, int32_t value) { return atomicCAS(p, compare, value); }
LSTMRT_DEVICE uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
LSTMRT_DEVICE void sleep_ns(unsigned ns) { __nanosleep(ns); }

// ---- bit casts, conversions, fast math ------------------------------------------------------------
LSTMRT_DEVICE uint32_t float_as_uint(float v) { return __float_as_uint(v); }
LSTMRT_DEVICE float uint_as_float(uint32_t v) { return __uint_as_float(v); }
LSTMRT_DEVICE uint16_t bf16_as_ushort(__nv_bfloat16 v) { return __bfloat16_as_ushort(v); }
// The float value of the bf16 in half `half` (0: low 16 bits, 1: high) of a 32-bit register.
// asm volatile: the compiler must not hoist the unpacking out of the step loop (that would keep
// two fp32 copies of every weight register live and spill).
LSTMRT_DEVICE float unpack_bf16(uint32_t reg, int half) {
  uint32_t out;
  if (half)
    asm volatile("and.b32 %0, %1, 0xffff0000;" : "=r"(out) : "r"(reg));
  else
    asm volatile("shl.b32 %0, %1, 16;" : "=r"(out) : "r"(reg));
  return __uint_as_float(out);
}
LSTMRT_DEVICE float fast_exp(float x) { return __expf(x); }
LSTMRT_DEVICE float fast_divide(float a, float b) { return __fdividef(a, b); }

// ---- launches and the runtime calls of the launchers ---------------------------------------------
// A launch's shape: `cooperative` (all blocks co-resident or the launch fails) or `cluster` > 0
// (clusters of that many blocks along x); neither: a plain launch.
struct LaunchShape {
  unsigned grid = 1, block = 1;
  size_t dynamic_smem = 0;
  cudaStream_t stream = nullptr;
  bool cooperative = false;
  unsigned cluster = 0;
};

// cudaLaunchConfig_t for `shape`; `attr` receives its one attribute (cooperative or cluster).
inline cudaLaunchConfig_t launch_config(const LaunchShape& shape, cudaLaunchAttribute* attr) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(shape.grid);
  cfg.blockDim = dim3(shape.block);
  cfg.dynamicSmemBytes = shape.dynamic_smem;
  cfg.stream = shape.stream;
  if (shape.cooperative) {
    attr->id = cudaLaunchAttributeCooperative;
    attr->val.cooperative = 1;
  } else {
    attr->id = cudaLaunchAttributeClusterDimension;
    attr->val.clusterDim.x = shape.cluster;
    attr->val.clusterDim.y = 1;
    attr->val.clusterDim.z = 1;
  }
  cfg.attrs = attr;
  cfg.numAttrs = shape.cooperative || shape.cluster > 0 ? 1 : 0;
  return cfg;
}

// Enqueues `kernel(args...)` with `shape`, then checks for a launch error (LSTMRT_CHECK_LAUNCH).
// `name` names the kernel in the SIMT executor's reports (unused here).
template <typename... Params, typename... Args>
inline void launch(const char*, void (*kernel)(Params...), const LaunchShape& shape, Args&&... args) {
  if (!shape.cooperative && shape.cluster == 0) {
    kernel<<<shape.grid, shape.block, shape.dynamic_smem, shape.stream>>>(std::forward<Args>(args)...);
  } else {
    cudaLaunchAttribute attr{};
    const cudaLaunchConfig_t cfg = launch_config(shape, &attr);
    LSTMRT_CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
  }
  LSTMRT_CHECK_LAUNCH(shape.stream);
}

template <typename Kernel>
inline void func_set_attribute(Kernel kernel, cudaFuncAttribute attr, int value) {
  LSTMRT_CUDA_CHECK(cudaFuncSetAttribute(kernel, attr, value));
}
// The kernel's static shared memory (cudaFuncAttributes::sharedSizeBytes).
template <typename Kernel>
inline int func_static_smem(Kernel kernel) {
  cudaFuncAttributes attributes{};
  LSTMRT_CUDA_CHECK(cudaFuncGetAttributes(&attributes, kernel));
  return static_cast<int>(attributes.sharedSizeBytes);
}
inline int current_device() {
  int device = 0;
  LSTMRT_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}
inline int device_attribute(cudaDeviceAttr attr, int device) {
  int value = 0;
  LSTMRT_CUDA_CHECK(cudaDeviceGetAttribute(&value, attr, device));
  return value;
}
template <typename Kernel>
inline int occupancy_blocks_per_sm(Kernel kernel, int block_threads, size_t dynamic_smem) {
  int blocks = 0;
  LSTMRT_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, block_threads, dynamic_smem));
  return blocks;
}
template <typename Kernel>
inline int occupancy_active_clusters(Kernel kernel, const LaunchShape& shape) {
  cudaLaunchAttribute attr{};
  const cudaLaunchConfig_t cfg = launch_config(shape, &attr);
  int clusters = 0;
  LSTMRT_CUDA_CHECK(cudaOccupancyMaxActiveClusters(&clusters, kernel, &cfg));
  return clusters;
}
// The largest cluster `kernel` can be launched with (shape.cluster is ignored).
template <typename Kernel>
inline int occupancy_potential_cluster_size(Kernel kernel, const LaunchShape& shape) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(shape.grid);
  cfg.blockDim = dim3(shape.block);
  cfg.dynamicSmemBytes = shape.dynamic_smem;
  int size = 0;
  LSTMRT_CUDA_CHECK(cudaOccupancyMaxPotentialClusterSize(&size, kernel, &cfg));
  return size;
}

}  // namespace lstmrt::kernels::dev

#elif defined(LSTMRT_SIMT)

#include "simt/simt_device.hpp"

#else
#error "kernels/device.cuh: compile with nvcc, or with LSTMRT_SIMT against the SIMT executor (tests/simt)"
#endif
