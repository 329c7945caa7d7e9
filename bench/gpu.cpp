// lstmrt-bench GPU side: ceilings with cuBLAS and cudaMemcpy, CUDA-event timing of forward passes.
#include "gpu.hpp"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <random>

#include "common/cuda_check.hpp"
#include "common/device_buffer.hpp"
#include "common/device_guard.hpp"
#include "common/elements.hpp"
#include "stats.hpp"

#define BENCH_CUBLAS_CHECK(call)                                                               \
  do {                                                                                         \
    const cublasStatus_t bench_status_ = (call);                                               \
    if (bench_status_ != CUBLAS_STATUS_SUCCESS)                                                \
      ::lstmrt::detail::fail(::lstmrt::ErrorCode::kCudaError, "{} failed: {} at {}:{}", #call, \
                             cublasGetStatusName(bench_status_), __FILE__, __LINE__);          \
  } while (0)

namespace lstmrt::bench {
namespace {

using detail::DeviceBuffer;

// Owners of a stream, events and a cuBLAS handle, released on every path.
struct Stream {
  cudaStream_t handle = nullptr;
  Stream() { LSTMRT_CUDA_CHECK(cudaStreamCreateWithFlags(&handle, cudaStreamNonBlocking)); }
  ~Stream() { cudaStreamDestroy(handle); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
};

struct EventPairs {
  std::vector<cudaEvent_t> start, stop;
  explicit EventPairs(int count) {
    for (int i = 0; i < count; ++i) {
      start.emplace_back(), stop.emplace_back();
      LSTMRT_CUDA_CHECK(cudaEventCreate(&start.back()));
      LSTMRT_CUDA_CHECK(cudaEventCreate(&stop.back()));
    }
  }
  ~EventPairs() {
    for (cudaEvent_t e : start) cudaEventDestroy(e);
    for (cudaEvent_t e : stop) cudaEventDestroy(e);
  }
  EventPairs(const EventPairs&) = delete;
  EventPairs& operator=(const EventPairs&) = delete;
  std::vector<double> elapsed_ms() const {
    std::vector<double> ms;
    for (std::size_t i = 0; i < start.size(); ++i) {
      float v = 0.0f;
      LSTMRT_CUDA_CHECK(cudaEventElapsedTime(&v, start[i], stop[i]));
      ms.push_back(v);
    }
    return ms;
  }
};

struct Cublas {
  cublasHandle_t handle = nullptr;
  Cublas() { BENCH_CUBLAS_CHECK(cublasCreate(&handle)); }
  ~Cublas() { cublasDestroy(handle); }
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;
};

// Times `launch` (enqueueing on `stream`) `runs` times after `warmup` untimed runs.
template <typename Launch>
std::vector<double> time_events(cudaStream_t stream, int warmup, int runs, Launch&& launch) {
  for (int i = 0; i < warmup; ++i) launch(i);
  EventPairs events(runs);
  for (int i = 0; i < runs; ++i) {
    LSTMRT_CUDA_CHECK(cudaEventRecord(events.start[i], stream));
    launch(warmup + i);
    LSTMRT_CUDA_CHECK(cudaEventRecord(events.stop[i], stream));
  }
  LSTMRT_CUDA_CHECK(cudaStreamSynchronize(stream));
  return events.elapsed_ms();
}

// Fills `count` elements of `buffer` (stored as `type`) with uniform [−1, 1] values,
// uploading a random block repeatedly so large buffers fill quickly.
void fill_random(const DeviceBuffer& buffer, std::size_t count, DataType type, std::uint64_t seed) {
  constexpr std::size_t kBlock = 1 << 20;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const std::size_t block = std::min(kBlock, count), elem = detail::element_bytes(type);
  std::vector<unsigned char> host(block * elem);
  for (std::size_t i = 0; i < block; ++i) {
    detail::store_element(dist(rng), type, &host[i * elem]);
  }
  for (std::size_t done = 0; done < count; done += block) {
    const std::size_t n = std::min(block, count - done);
    LSTMRT_CUDA_CHECK(
        cudaMemcpy(buffer.as<unsigned char>() + done * elem, host.data(), n * elem, cudaMemcpyHostToDevice));
  }
}

cudaDataType_t cuda_type(DataType t) {
  switch (t) {
    case DataType::kFloat32: return CUDA_R_32F;
    case DataType::kFloat16: return CUDA_R_16F;
    case DataType::kBFloat16: return CUDA_R_16BF;
    default: break;
  }
  detail::invalid("bench GEMM ceiling: data type {}: expected float32, float16 or bfloat16", to_string(t));
}

double gemm_rate(Cublas& cublas, cudaStream_t stream, const Numerics& numerics, int n) {
  const std::size_t count = static_cast<std::size_t>(n) * n, bytes = count * detail::element_bytes(numerics.type);
  DeviceBuffer a(bytes), b(bytes), c(bytes);
  fill_random(a, count, numerics.type, 11);
  fill_random(b, count, numerics.type, 12);
  const cudaDataType_t type = cuda_type(numerics.type);
  const cublasComputeType_t compute =
      numerics.math == MathMode::kTF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const float alpha = 1.0f, beta = 0.0f;
  BENCH_CUBLAS_CHECK(cublasSetStream(cublas.handle, stream));
  const std::vector<double> ms = time_events(stream, 2, 5, [&](int) {
    BENCH_CUBLAS_CHECK(cublasGemmEx(cublas.handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a.get(), type, n, b.get(),
                                    type, n, &beta, c.get(), type, n, compute, CUBLAS_GEMM_DEFAULT));
  });
  return 2.0 * n * static_cast<double>(n) * n / (summarize(ms).median * 1e-3);
}

double copy_bandwidth(cudaStream_t stream) {
  constexpr std::size_t kBytes = std::size_t{512} << 20;
  DeviceBuffer src(kBytes), dst(kBytes);
  fill_random(src, kBytes / 4, DataType::kFloat32, 13);
  const std::vector<double> ms = time_events(stream, 3, 10, [&](int) {
    LSTMRT_CUDA_CHECK(cudaMemcpyAsync(dst.get(), src.get(), kBytes, cudaMemcpyDeviceToDevice, stream));
  });
  return 2.0 * kBytes / (summarize(ms).median * 1e-3);  // read + write
}

// One input/output set of a forward pass in the shape's storage type.
struct BufferSet {
  DeviceBuffer x, y, h_n, c_n;
};

}  // namespace

GpuDevice open_gpu(int ordinal) {
  LSTMRT_CUDA_CHECK(cudaSetDevice(ordinal));
  cudaDeviceProp prop{};
  LSTMRT_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal));
  GpuDevice gpu;
  gpu.ordinal = ordinal;
  gpu.name = prop.name;
  gpu.l2_bytes = static_cast<std::size_t>(prop.l2CacheSize);
  std::size_t total = 0;
  LSTMRT_CUDA_CHECK(cudaMemGetInfo(&gpu.free_bytes, &total));
  return gpu;
}

Ceilings measure_ceilings(const std::vector<Numerics>& numerics, int gemm_n) {
  Ceilings ceilings;
  Stream stream;
  Cublas cublas;
  for (const Numerics& p : numerics)
    if (!ceilings.gemm_flops_per_s.count(p)) ceilings.gemm_flops_per_s[p] = gemm_rate(cublas, stream.handle, p, gemm_n);
  ceilings.copy_bytes_per_s = copy_bandwidth(stream.handle);
  return ceilings;
}

int rotation_count(std::size_t set_bytes, std::size_t l2_bytes, std::size_t free_bytes) {
  if (set_bytes == 0) return 2;
  const std::size_t cover = (2 * l2_bytes + set_bytes - 1) / set_bytes;
  std::size_t count = std::clamp<std::size_t>(cover, 2, 8);
  while (count > 2 && count * set_bytes > free_bytes / 4) --count;
  return static_cast<int>(count);
}

GpuTiming time_on_gpu(Lstm& lstm, const Shape& s, const TimingSettings& settings, const GpuDevice& gpu,
                      std::uint64_t seed) {
  const lstmrt::detail::DeviceGuard guard(gpu.ordinal);  // before the buffers below: they are freed on it
  const std::size_t elem = detail::element_bytes(s.numerics.type);
  const std::size_t steps_rows = static_cast<std::size_t>(s.steps) * s.batch;
  const std::size_t states = static_cast<std::size_t>(s.layers) * s.directions * s.batch;
  const int H_out = s.proj > 0 ? s.proj : s.hidden;
  const std::size_t x_count = steps_rows * s.input, y_count = steps_rows * s.directions * H_out;
  const std::size_t set_bytes = elem * (x_count + y_count + states * (H_out + s.hidden));

  GpuTiming timing;
  timing.rotation_sets = rotation_count(set_bytes, gpu.l2_bytes, gpu.free_bytes);
  std::vector<BufferSet> sets;
  std::vector<ForwardRequest> requests;
  for (int k = 0; k < timing.rotation_sets; ++k) {
    sets.push_back({DeviceBuffer(x_count * elem), DeviceBuffer(y_count * elem), DeviceBuffer(states * H_out * elem),
                    DeviceBuffer(states * s.hidden * elem)});
    fill_random(sets.back().x, x_count, s.numerics.type, seed + k);
  }
  for (const BufferSet& set : sets) {
    ForwardRequest req;
    req.seq_len = s.steps;
    req.batch = s.batch;
    req.x = set.x.get();
    req.y = set.y.get();
    req.h_n = set.h_n.get();
    req.c_n = set.c_n.get();
    requests.push_back(req);
  }
  lstm.reserve(s.steps, s.batch);
  Stream stream;
  LSTMRT_CUDA_CHECK(cudaDeviceSynchronize());
  auto launch = [&](int i) { lstm.forward(requests[i % requests.size()], stream.handle); };

  // Estimate one run's time after the warm-up, then time as many runs as the budget allows.
  const std::vector<double> estimate = time_events(stream.handle, std::max(settings.warmup, 1), 3, launch);
  const int runs = planned_runs(settings, summarize(estimate).median);
  timing.samples_ms = time_events(stream.handle, 0, runs, launch);
  return timing;
}

}  // namespace lstmrt::bench
