// The fused backend's weights: packed on the host once per model (CPU-tested), converted to the
// device data type and uploaded once at create.
//
// Per layer l (D directions, blocks stacked direction-major so one GEMM serves both directions):
//   w_ih      (D·4H, I_l)   direction d's canonical w_ih at rows [d·4H, (d+1)·4H)
//   w_hh      (D, 4H, H_out)
//   w_hr      (D, P, H)     empty without projection
//   bias      (D, 4H)       float32, b_ih + b_hh (the gate kernel adds it)
//   peephole  (D, 3H)       float32, blocks i f o; empty without peepholes
#pragma once

#include <cstdint>
#include <vector>

#include "common/device_buffer.hpp"
#include "common/elements.hpp"  // detail::to_storage: what upload_weights copies
#include "lstmrt/lstm.hpp"

namespace lstmrt::fused {

struct PackedLayer {
  std::vector<float> w_ih, w_hh, w_hr, bias, peephole;
};

PackedLayer pack_layer(const ModelDesc& desc, const Weights& weights, int layer);

struct DeviceLayer {
  detail::DeviceBuffer w_ih, w_hh, w_hr, bias, peephole;
};

// Packs and uploads every layer (synchronous copies: create-time only).
std::vector<DeviceLayer> upload_weights(const ModelDesc& desc, const Weights& weights, DataType type);

}  // namespace lstmrt::fused
