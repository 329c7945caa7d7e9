// Internal: the cuDNN weight space of one RNN descriptor, filled once at creation.
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <vector>

#include "common/device_buffer.hpp"
#include "cudnn/cudnn_plan.hpp"

namespace lstmrt::cudnn {

struct WeightSpace {
  detail::DeviceBuffer buffer;
  std::vector<WeightPlacement> placements;  // as cudnnGetRNNWeightParams reported them
  std::size_t bytes() const { return buffer.bytes(); }
};

// Where cuDNN wants every (pseudo-layer, linLayerID) of `rnn` inside a weight space starting at
// `space` (`bytes` long): cudnnGetRNNWeightParams for each, never an assumed flat order.
std::vector<WeightPlacement> query_weight_placements(cudnnHandle_t handle, cudnnRNNDescriptor_t rnn,
                                                     const ModelDesc& desc, std::size_t bytes, const void* space);

// Allocates the weight space of `rnn` (cudnnGetRNNWeightSpaceSize), asks cuDNN where each matrix
// and bias goes, packs the canonical weights converted to `type` into a zeroed host image and
// uploads it (synchronously: creation time). Returns the cuDNN status of the size query
// unchanged when it fails (the caller tells a refusal from a failure: cudnn::status_action); a
// later failure throws.
cudnnStatus_t build_weight_space(cudnnHandle_t handle, cudnnRNNDescriptor_t rnn, const ModelDesc& desc,
                                 const Weights& weights, DataType type, WeightSpace& out);

}  // namespace lstmrt::cudnn
