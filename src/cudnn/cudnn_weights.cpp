// Packing the canonical weights into cuDNN's weight space (see cudnn_weights.hpp).
#include "cudnn/cudnn_weights.hpp"

#include <cuda_runtime_api.h>

#include "common/cuda_check.hpp"
#include "cudnn/cudnn_check.hpp"
#include "cudnn/cudnn_descriptors.hpp"

namespace lstmrt::cudnn {
namespace {

// Dims of a tensor descriptor cuDNN filled in (up to 8).
std::vector<int> tensor_dims(cudnnTensorDescriptor_t t) {
  constexpr int kMaxDims = 8;
  cudnnDataType_t type;
  int count = 0;
  int dims[kMaxDims] = {0}, strides[kMaxDims] = {0};
  LSTMRT_CUDNN_CHECK(cudnnGetTensorNdDescriptor(t, kMaxDims, &type, &count, dims, strides));
  return std::vector<int>(dims, dims + (count < kMaxDims ? count : kMaxDims));
}

std::ptrdiff_t offset_in(const void* space, const void* address) {
  if (!address) return -1;
  return static_cast<const unsigned char*>(address) - static_cast<const unsigned char*>(space);
}

}  // namespace

std::vector<WeightPlacement> query_weight_placements(cudnnHandle_t handle, cudnnRNNDescriptor_t rnn,
                                                     const ModelDesc& desc, std::size_t bytes, const void* space) {
  TensorDesc matrix = TensorDesc::create();
  TensorDesc bias = TensorDesc::create();
  std::vector<WeightPlacement> placements;
  for (int pseudo = 0; pseudo < num_pseudo_layers(desc); ++pseudo) {
    for (int id = 0; id < num_lin_layers(desc); ++id) {
      void* matrix_address = nullptr;
      void* bias_address = nullptr;
      LSTMRT_CUDNN_CHECK(cudnnGetRNNWeightParams(handle, rnn, pseudo, bytes, space, id, matrix.get(), &matrix_address,
                                                 bias.get(), &bias_address));
      WeightPlacement p;
      p.pseudo_layer = pseudo;
      p.lin_id = id;
      p.matrix_offset = offset_in(space, matrix_address);
      if (matrix_address) p.matrix_dims = tensor_dims(matrix.get());
      p.bias_offset = offset_in(space, bias_address);
      if (bias_address) p.bias_dims = tensor_dims(bias.get());
      placements.push_back(std::move(p));
    }
  }
  return placements;
}

cudnnStatus_t build_weight_space(cudnnHandle_t handle, cudnnRNNDescriptor_t rnn, const ModelDesc& desc,
                                 const Weights& weights, DataType type, WeightSpace& out) {
  std::size_t bytes = 0;
  const cudnnStatus_t status = cudnnGetRNNWeightSpaceSize(handle, rnn, &bytes);
  if (status != CUDNN_STATUS_SUCCESS) return status;
  out.buffer = detail::DeviceBuffer(bytes);
  out.placements = query_weight_placements(handle, rnn, desc, bytes, out.buffer.get());
  // Zeroed first (pack_weight_image does): bytes cuDNN leaves unaddressed must not be garbage.
  std::vector<unsigned char> image(bytes);
  pack_weight_image(desc, weights, type, out.placements, image);
  LSTMRT_CUDA_CHECK(cudaMemcpy(out.buffer.get(), image.data(), bytes, cudaMemcpyHostToDevice));
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace lstmrt::cudnn
