// The fused backend's per-step gate kernel and state initialisation: one thread per hidden unit of
// one row and direction, index e = (d·N + b)·H + j. All arithmetic is fused_step_math.cuh's; the
// device primitives (indices, launch) are kernels/device.cuh's.
#include "kernels/fused_step.hpp"

#include "kernels/device.cuh"

namespace lstmrt::kernels {
namespace {

constexpr int kThreads = 256;

// This thread's (d, b, j) for a D × N × H grid; false past the end.
__device__ inline bool element_of_thread(int directions, int batch, int hidden, int& d, int& b, int& j) {
  const int64_t e = static_cast<int64_t>(dev::block_x()) * dev::block_dim_x() + dev::thread_x();
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

dev::LaunchShape shape_for(int directions, int batch, int hidden, cudaStream_t stream, const char* what) {
  if (directions < 1 || directions > 2 || batch < 1 || hidden < 1)
    detail::invalid("{}: D={} N={} H={}: expected D in 1..2 and N, H >= 1", what, directions, batch, hidden);
  const int64_t elements = static_cast<int64_t>(directions) * batch * hidden;
  dev::LaunchShape shape;
  shape.grid = static_cast<unsigned>((elements + kThreads - 1) / kThreads);
  shape.block = kThreads;
  shape.stream = stream;
  return shape;
}

[[noreturn]] void refuse_type(DataType type, const char* what) {
  detail::invalid("{}: {} data; expected float32, float16 or bfloat16", what, data_type_name(type));
}

}  // namespace

void launch_gate_step(const GateStepParams& p, DataType type, cudaStream_t stream) {
  const dev::LaunchShape shape = shape_for(p.directions, p.batch, p.hidden, stream, "launch_gate_step");
  switch (type) {
    case DataType::kFloat32: dev::launch("gate_step_kernel<float>", gate_step_kernel<float>, shape, p); break;
    case DataType::kFloat16: dev::launch("gate_step_kernel<half>", gate_step_kernel<__half>, shape, p); break;
    case DataType::kBFloat16:
      dev::launch("gate_step_kernel<bfloat16>", gate_step_kernel<__nv_bfloat16>, shape, p);
      break;
    default: refuse_type(type, "launch_gate_step");
  }
}

void launch_init_state(const InitStateParams& p, DataType type, cudaStream_t stream) {
  const dev::LaunchShape shape = shape_for(p.directions, p.batch, p.hidden, stream, "launch_init_state");
  switch (type) {
    case DataType::kFloat32: dev::launch("init_state_kernel<float>", init_state_kernel<float>, shape, p); break;
    case DataType::kFloat16: dev::launch("init_state_kernel<half>", init_state_kernel<__half>, shape, p); break;
    case DataType::kBFloat16:
      dev::launch("init_state_kernel<bfloat16>", init_state_kernel<__nv_bfloat16>, shape, p);
      break;
    default: refuse_type(type, "launch_init_state");
  }
}

}  // namespace lstmrt::kernels
