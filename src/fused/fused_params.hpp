// From a plan op and the call's buffer addresses to the kernels' by-value parameters and the GEMMs'
// operand addresses: the arithmetic bind (fused_bind.hpp) applies to every op. Pure host code; the
// addresses are device memory for the GPU executor, host memory for the CPU SIMT executor.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fused/fused_plan.hpp"
#include "kernels/fused_step_math.cuh"

namespace lstmrt::fused {

// One layer's packed weights (fused_weights.hpp), wherever they live (device or host memory).
struct LayerWeights {
  const void* w_ih = nullptr;       // (D·4H, I_l) data type
  const void* w_hh = nullptr;       // (D, 4H, H_out) data type
  const void* w_hr = nullptr;       // (D, P, H) data type; null without a projection
  const float* bias = nullptr;      // (D, 4H)
  const float* peephole = nullptr;  // (D, 3H); null without peepholes
};

// Where every buffer of one call starts.
struct LayerBuffers {
  void* gates_x = nullptr;
  void* gates_h = nullptr;
  void* gates_h0 = nullptr;
  void* h_state = nullptr;
  void* c_state = nullptr;
  void* m_state = nullptr;
  void* layer_out = nullptr;
  void* cublas_workspace = nullptr;
  void* h_exchange = nullptr;  // grid persistent exchanges (workspace's persistent region)
  void* m_exchange = nullptr;
  LayerWeights weights;
};

struct CallBuffers {
  const void* x = nullptr;
  void* y = nullptr;
  const void* h0 = nullptr;
  const void* c0 = nullptr;
  void* h_n = nullptr;
  void* c_n = nullptr;
  std::int32_t* lengths = nullptr;  // device copy (workspace); null without lengths
  std::int32_t* mask = nullptr;     // packed device copy (workspace, src/request_mask.hpp); null without a mask
  std::int32_t* persistent_abort = nullptr;  // the persistent kernels' abort word (workspace); null for float16
  std::vector<LayerBuffers> layers;
};

// Workspace regions of `layout` placed at `workspace`, request pointers from `req` (lengths, mask:
// the workspace copies when the request has them), weights left null for the caller to fill.
CallBuffers call_buffers(const WorkspaceLayout& layout, void* workspace, const ForwardRequest& req);

// Bytes per element of a buffer: float32 for gates and the cell state, the data type otherwise.
std::size_t buffer_element_bytes(BufferKind kind, DataType type);
// Address of element `offset` of buffer `ref` (null base: throws kInternal naming the buffer).
const void* matrix_address(const CallBuffers& buffers, const MatrixRef& ref, DataType type);

// Parameters of a kGateStep op of `plan`.
kernels::GateStepParams gate_step_params(const ModelDesc& desc, const FusedPlan& plan, const Op& op,
                                         const CallBuffers& buffers, const std::array<kernels::CellMathParams, 2>& cell,
                                         DataType type);
// Parameters of layer l's kInitState op.
kernels::InitStateParams init_state_params(const ModelDesc& desc, const FusedPlan& plan, int layer,
                                           const CallBuffers& buffers, DataType type);

}  // namespace lstmrt::fused
