// Launchers of the fused backend's per-step kernels (kernels/fused_step.cu). The per-element work
// is kernels/fused_step_math.cuh (also compiled for the host: CPU tests of the cell math, and the
// SIMT executor, which runs these kernels themselves); parameters go by value.
#pragma once

#include "kernels/fused_step_math.cuh"

typedef struct CUstream_st* cudaStream_t;  // as cuda_runtime_api.h declares it

namespace lstmrt::kernels {

// One launch per step of a layer (both directions): gate_step_element for every (d, b, j) of
// D × N × H, `type` the storage of h, y and the states (float32, float16 or bfloat16). Throws
// Error(kInvalidArgument) for non-positive sizes or another type, Error(kCudaError) on a launch error.
void launch_gate_step(const GateStepParams& params, DataType type, cudaStream_t stream);

// One launch per layer at the start of a call: init_state_element for every (d, b, j).
void launch_init_state(const InitStateParams& params, DataType type, cudaStream_t stream);

}  // namespace lstmrt::kernels
