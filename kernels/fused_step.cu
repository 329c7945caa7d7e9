// The fused backend's per-step gate kernel and state initialisation: one thread per hidden unit of
// one row and direction, index e = (d·N + b)·H + j. All arithmetic is fused_step_math.cuh's.
#include "kernels/fused_step.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include "common/cuda_check.hpp"

namespace lstmrt::kernels {
namespace {

constexpr int kThreads = 256;

// This thread's (d, b, j) for a D × N × H grid; false past the end.
__device__ inline bool element_of_thread(int directions, int batch, int hidden, int& d, int& b, int& j) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t per_direction = static_cast<int64_t>(batch) * hidden;
  if (e >= per_direction * directions) return false;
  d = static_cast<int>(e / per_direction);
  const int64_t rest = e - d * per_direction;
  b = static_cast<int>(rest / hidden);
  j = static_cast<int>(rest % hidden);
  return true;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) gate_step_kernel(const __grid_constant__ GateStepParams p) {
  int d, b, j;
  if (element_of_thread(p.directions, p.batch, p.hidden, d, b, j)) gate_step_element<T>(p, d, b, j);
}

template <typename T>
__global__ void __launch_bounds__(kThreads) init_state_kernel(const __grid_constant__ InitStateParams p) {
  int d, b, j;
  if (element_of_thread(p.directions, p.batch, p.hidden, d, b, j)) init_state_element<T>(p, d, b, j);
}

unsigned grid_for(int directions, int batch, int hidden, const char* what) {
  if (directions < 1 || directions > 2 || batch < 1 || hidden < 1)
    detail::invalid("{}: D={} N={} H={}: expected D in 1..2 and N, H >= 1", what, directions, batch, hidden);
  const int64_t elements = static_cast<int64_t>(directions) * batch * hidden;
  return static_cast<unsigned>((elements + kThreads - 1) / kThreads);
}

}  // namespace

void launch_gate_step(const GateStepParams& p, StorageType type, cudaStream_t stream) {
  const unsigned grid = grid_for(p.directions, p.batch, p.hidden, "launch_gate_step");
  switch (type) {
    case StorageType::kFloat32: gate_step_kernel<float><<<grid, kThreads, 0, stream>>>(p); break;
    case StorageType::kFloat16: gate_step_kernel<__half><<<grid, kThreads, 0, stream>>>(p); break;
    case StorageType::kBFloat16: gate_step_kernel<__nv_bfloat16><<<grid, kThreads, 0, stream>>>(p); break;
  }
  LSTMRT_CHECK_LAUNCH(stream);
}

void launch_init_state(const InitStateParams& p, StorageType type, cudaStream_t stream) {
  const unsigned grid = grid_for(p.directions, p.batch, p.hidden, "launch_init_state");
  switch (type) {
    case StorageType::kFloat32: init_state_kernel<float><<<grid, kThreads, 0, stream>>>(p); break;
    case StorageType::kFloat16: init_state_kernel<__half><<<grid, kThreads, 0, stream>>>(p); break;
    case StorageType::kBFloat16: init_state_kernel<__nv_bfloat16><<<grid, kThreads, 0, stream>>>(p); break;
  }
  LSTMRT_CHECK_LAUNCH(stream);
}

}  // namespace lstmrt::kernels
