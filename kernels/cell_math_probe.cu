// The cell-math probe kernel (cell_math_probe.hpp); device primitives are kernels/device.cuh's.
#include "kernels/cell_math_probe.hpp"

#include "kernels/device.cuh"

namespace lstmrt::kernels {
namespace {

constexpr int kProbeThreads = 256;

// One thread per probe point; a grid-stride loop so any count fits one launch.
__global__ void __launch_bounds__(kProbeThreads)
    cell_math_probe_kernel(CellMathParams params, const CellProbeInput* __restrict__ in, CellResult* __restrict__ out,
                           int count) {
  for (int k = dev::block_x() * dev::block_dim_x() + dev::thread_x(); k < count;
       k += dev::grid_dim_x() * dev::block_dim_x()) {
    const CellProbeInput v = in[k];
    out[k] = cell_step(params, v.z_i, v.z_f, v.z_g, v.z_o, v.c_prev, v.p_i, v.p_f, v.p_o);
  }
}

}  // namespace

void launch_cell_math_probe(const CellMathParams& params, const CellProbeInput* in, CellResult* out, int count,
                            cudaStream_t stream) {
  if (count < 0) detail::invalid("cell math probe: count is {}: expected >= 0", count);
  if (count == 0) return;
  if (!in || !out)
    detail::invalid("cell math probe: {} is null: expected a device array of {} elements", !in ? "in" : "out", count);
  const int blocks =
      (count + kProbeThreads - 1) / kProbeThreads < 1024 ? (count + kProbeThreads - 1) / kProbeThreads : 1024;
  dev::LaunchShape shape;
  shape.grid = static_cast<unsigned>(blocks);
  shape.block = kProbeThreads;
  shape.stream = stream;
  dev::launch("cell_math_probe_kernel", cell_math_probe_kernel, shape, params, in, out, count);
}

}  // namespace lstmrt::kernels
