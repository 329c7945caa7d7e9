// Launcher for the cell-math probe: evaluates lstm_cell_math.cuh's cell_step on the device for an
// array of independent inputs, so tests can compare the device instantiation with the host one.
// Not used by any backend.
#pragma once

#include "kernels/lstm_cell_math.cuh"

typedef struct CUstream_st* cudaStream_t;  // as cuda_runtime_api.h declares it

namespace lstmrt::kernels {

// One probe point: the arguments of cell_step.
struct CellProbeInput {
  float z_i, z_f, z_g, z_o;  // gate pre-activations, biases added
  float c_prev;
  float p_i, p_f, p_o;  // peephole weights
};

// out[k] = cell_step(params, in[k]...) for k in [0, count). `in` and `out` are DEVICE arrays of
// `count` elements (count >= 0; null allowed only when count == 0). Enqueues on `stream`.
// Throws Error(kInvalidArgument) for a bad count or pointer, Error(kCudaError) on a launch error.
void launch_cell_math_probe(const CellMathParams& params, const CellProbeInput* in, CellResult* out, int count,
                            cudaStream_t stream);

}  // namespace lstmrt::kernels
