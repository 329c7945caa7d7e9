// kernels/device.cuh's primitives bound to the CPU SIMT executor (tests/simt/executor.hpp): what
// the kernels' own source compiles against when the host compiler builds it with LSTMRT_SIMT.
// Every name here has the same signature as under nvcc, plus a defaulted call-site argument on the
// primitives that synchronise or poll.
//
// Shared memory is reached only through SharedPtr<T> (nvcc: T*): a pointer that knows its region
// (one block's dynamic shared memory or one static array of it). Each access goes through a
// SharedRef<T> proxy, which checks bounds and alignment, reads of bytes not written in this launch
// and races between barriers (simt::shared_access) before touching the bytes.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>  // crt/host_defines.h: __device__, __global__, __host__, __shared__ expand to nothing

#include <cmath>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#include "common/check.hpp"
#include "simt/executor.hpp"

#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

#define LSTMRT_DEVICE inline

#define LSTMRT_DYNAMIC_SHARED(type, name, align) \
  const ::lstmrt::kernels::dev::SharedPtr<type> name = ::lstmrt::kernels::dev::dynamic_shared<type>(align)
#define LSTMRT_STATIC_SHARED(type, name, count)        \
  static const char name##_simt_declaration = 0;       \
  const ::lstmrt::kernels::dev::SharedPtr<type> name = \
      ::lstmrt::kernels::dev::static_shared<type>(&name##_simt_declaration, count, #name)

// The call site of a primitive: __builtin_FILE / __builtin_LINE as default arguments of the
// primitive itself evaluate where the kernel calls it.
#define LSTMRT_SIMT_SITE const char *file = __builtin_FILE(), int line = __builtin_LINE()

namespace lstmrt::kernels::dev {

template <typename T>
class SharedRef;

template <typename T>
class SharedPtr {
 public:
  SharedPtr() = default;
  SharedPtr(std::nullptr_t) {}
  SharedPtr(T* p, simt::SharedRegion* region, bool mapped) : p_(p), region_(region), mapped_(mapped) {}
  template <typename U, typename = std::enable_if_t<std::is_convertible_v<U*, T*>>>
  SharedPtr(const SharedPtr<U>& o) : p_(o.raw()), region_(o.region()), mapped_(o.mapped()) {}

  SharedRef<T> operator*() const { return SharedRef<T>(*this); }
  template <typename I, typename = std::enable_if_t<std::is_integral_v<I>>>
  SharedRef<T> operator[](I i) const {
    return SharedRef<T>(*this + i);
  }
  template <typename I, typename = std::enable_if_t<std::is_integral_v<I>>>
  SharedPtr operator+(I i) const {
    return SharedPtr(p_ + static_cast<std::ptrdiff_t>(i), region_, mapped_);
  }
  template <typename I, typename = std::enable_if_t<std::is_integral_v<I>>>
  SharedPtr operator-(I i) const {
    return SharedPtr(p_ - static_cast<std::ptrdiff_t>(i), region_, mapped_);
  }

  T* raw() const { return p_; }
  const void* address() const { return const_cast<const void*>(static_cast<const volatile void*>(p_)); }
  simt::SharedRegion* region() const { return region_; }
  bool mapped() const { return mapped_; }

 private:
  T* p_ = nullptr;
  simt::SharedRegion* region_ = nullptr;
  bool mapped_ = false;
};

// One element of shared memory: reads and writes are checked accesses.
template <typename T>
class SharedRef {
  using V = std::remove_cv_t<T>;
  static constexpr bool kExempt = std::is_volatile_v<T>;  // flags polled by several threads

 public:
  explicit SharedRef(const SharedPtr<T>& p) : p_(p) {}
  operator V() const {
    simt::shared_access(p_.region(), p_.address(), sizeof(V), false, kExempt || p_.mapped(), p_.mapped());
    V v;
    std::memcpy(&v, const_cast<const V*>(p_.raw()), sizeof(V));
    return v;
  }
  const SharedRef& operator=(const V& v) const {
    static_assert(!std::is_const_v<T>, "write through a SharedPtr<const T>");
    simt::shared_access(p_.region(), p_.address(), sizeof(V), true, kExempt || p_.mapped(), p_.mapped());
    std::memcpy(const_cast<V*>(p_.raw()), &v, sizeof(V));
    return *this;
  }
  const SharedRef& operator=(const SharedRef& o) const { return *this = static_cast<V>(o); }
  SharedPtr<T> operator&() const { return p_; }

 private:
  SharedPtr<T> p_;
};

template <typename T, typename U>
inline SharedPtr<T> shared_cast(SharedPtr<U> p) {
  return SharedPtr<T>(reinterpret_cast<T*>(p.raw()), p.region(), p.mapped());
}
template <typename T>
inline SharedPtr<T> dynamic_shared(std::size_t align) {
  simt::SharedRegion* r = simt::dynamic_shared(align);
  return SharedPtr<T>(reinterpret_cast<T*>(simt::region_base(r)), r, false);
}
template <typename T>
inline SharedPtr<T> static_shared(const char* declaration, std::size_t count, const char* name) {
  simt::SharedRegion* r = simt::static_shared(declaration, count * sizeof(T), alignof(T), name);
  return SharedPtr<T>(reinterpret_cast<T*>(simt::region_base(r)), r, false);
}

// ---- indices ------------------------------------------------------------------------------------
inline unsigned thread_x() { return simt::thread_x(); }
inline unsigned block_x() { return simt::block_x(); }
inline unsigned block_dim_x() { return simt::block_dim_x(); }
inline unsigned grid_dim_x() { return simt::grid_dim_x(); }
inline void note_step(int step) { simt::note_step(step); }

// ---- synchronisation ----------------------------------------------------------------------------
inline void sync_block(LSTMRT_SIMT_SITE) { simt::sync_block({file, line}); }
template <typename T>
inline T shfl_xor(unsigned mask, T v, int lane_mask, LSTMRT_SIMT_SITE) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t) && std::is_trivially_copyable_v<T>, "shuffle of a 1..8-byte value");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = simt::shuffle_xor(mask, bits, lane_mask, {file, line});
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}
inline void cluster_sync(LSTMRT_SIMT_SITE) { simt::cluster_sync({file, line}); }
template <typename T>
inline SharedPtr<T> map_shared_rank(SharedPtr<T> p, int rank) {
  const void* mapped = nullptr;
  simt::SharedRegion* r = simt::map_region(p.region(), p.raw(), rank, &mapped);
  return SharedPtr<T>(static_cast<T*>(const_cast<void*>(mapped)), r, true);
}

// ---- memory operations of the exchanges ---------------------------------------------------------
inline uint64_t load_relaxed_gpu(const uint64_t* p, LSTMRT_SIMT_SITE) {
  simt::poll({file, line});
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store_relaxed_gpu(uint64_t* p, uint64_t v) {
  std::memcpy(p, &v, sizeof v);
  simt::progress();
}
inline int32_t load_acquire_cluster_shared(SharedPtr<const int32_t> p, LSTMRT_SIMT_SITE) {
  simt::poll({file, line});
  simt::shared_access(p.region(), p.raw(), sizeof(int32_t), false, true, p.mapped());
  int32_t v;
  std::memcpy(&v, p.raw(), sizeof v);
  return v;
}
inline void store_release_cluster(SharedPtr<int32_t> p, int32_t v) {
  simt::shared_access(p.region(), p.raw(), sizeof(int32_t), true, true, p.mapped());
  std::memcpy(p.raw(), &v, sizeof v);
  simt::progress();
}
// One fiber runs at a time: every access is already ordered (sequentially consistent).
inline void fence_acq_rel_cluster() {}
inline void threadfence_system() {}
inline int32_t atomic_cas(int32_t* p, int32_t compare, int32_t value) {
  const int32_t old = *p;
  if (old == compare) *p = value;
  simt::progress();
  return old;
}
inline uint64_t global_timer_ns() { return simt::global_timer_ns(); }
inline void sleep_ns(unsigned ns, LSTMRT_SIMT_SITE) { simt::sleep_ns(ns, {file, line}); }

// ---- bit casts, conversions, fast math ------------------------------------------------------------
inline uint32_t float_as_uint(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}
inline float uint_as_float(uint32_t u) {
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}
inline uint16_t bf16_as_ushort(__nv_bfloat16 v) { return __bfloat16_as_ushort(v); }
inline float unpack_bf16(uint32_t reg, int half) { return uint_as_float(half ? reg & 0xffff0000u : reg << 16); }
// The precise functions: the GPU's approximations differ by a few ulp.
inline float fast_exp(float x) { return std::exp(x); }
inline float fast_divide(float a, float b) { return a / b; }

// ---- launches and the runtime calls of the launchers ---------------------------------------------
struct LaunchShape {
  unsigned grid = 1, block = 1;
  size_t dynamic_smem = 0;
  cudaStream_t stream = nullptr;  // launches run to completion in issue order: the stream is not used
  bool cooperative = false;
  unsigned cluster = 0;
};

template <typename Kernel>
inline simt::KernelId kernel_id(Kernel kernel) {
  return reinterpret_cast<simt::KernelId>(kernel);
}

inline void check_runtime(cudaError_t status, const char* call, const char* name) {
  if (status != cudaSuccess)
    detail::fail(ErrorCode::kCudaError, "{} of {} failed: {} ({}) [SIMT executor]", call, name,
                 cudaGetErrorName(status), cudaGetErrorString(status));
}

// Runs `kernel(args...)` in every thread of the launch (parameters copied once, by value, as a
// launch copies them). A refused launch throws Error(kCudaError) as LSTMRT_CHECK_LAUNCH does; an
// execution fault throws simt::KernelFault.
template <typename... Params, typename... Args>
inline void launch(const char* name, void (*kernel)(Params...), const LaunchShape& shape, Args&&... args) {
  const std::tuple<std::decay_t<Params>...> params(std::forward<Args>(args)...);
  simt::LaunchRequest request;
  request.name = name;
  request.kernel = kernel_id(kernel);
  request.grid = shape.grid;
  request.block = shape.block;
  request.dynamic_smem = shape.dynamic_smem;
  request.cooperative = shape.cooperative;
  request.cluster = shape.cluster;
  check_runtime(simt::launch(request, [&] { std::apply(kernel, params); }), "launch", name);
}

template <typename Kernel>
inline void func_set_attribute(Kernel kernel, cudaFuncAttribute attr, int value) {
  check_runtime(simt::func_set_attribute(kernel_id(kernel), attr, value), "cudaFuncSetAttribute", "a kernel");
}
template <typename Kernel>
inline int func_static_smem(Kernel kernel) {
  return simt::func_static_smem(kernel_id(kernel));
}
inline int current_device() { return 0; }
inline int device_attribute(cudaDeviceAttr attr, int device) {
  int value = 0;
  check_runtime(simt::device_attribute(&value, attr, device), "cudaDeviceGetAttribute", "the device");
  return value;
}
template <typename Kernel>
inline int occupancy_blocks_per_sm(Kernel kernel, int block_threads, size_t dynamic_smem) {
  return simt::occupancy_blocks_per_sm(kernel_id(kernel), block_threads, dynamic_smem);
}
template <typename Kernel>
inline int occupancy_active_clusters(Kernel kernel, const LaunchShape& shape) {
  return simt::occupancy_active_clusters(kernel_id(kernel), shape.block, shape.dynamic_smem, shape.cluster);
}
template <typename Kernel>
inline int occupancy_potential_cluster_size(Kernel kernel, const LaunchShape& shape) {
  return simt::occupancy_potential_cluster_size(kernel_id(kernel), shape.block, shape.dynamic_smem);
}

}  // namespace lstmrt::kernels::dev
