// Weight packing and upload for the fused backend (layouts in fused_weights.hpp).
#include "fused/fused_weights.hpp"

#include <cuda_runtime_api.h>

#include "common/cuda_check.hpp"
#include "common/elements.hpp"

namespace lstmrt::fused {

PackedLayer pack_layer(const ModelDesc& desc, const Weights& weights, int layer) {
  if (layer < 0 || layer >= desc.num_layers)
    detail::invalid("fused weights: layer {} out of range: expected 0..{}", layer, desc.num_layers - 1);
  PackedLayer p;
  const int H = desc.hidden_size;
  for (int d = 0; d < desc.num_directions(); ++d) {
    const LayerWeights& w = weights.at(desc, layer, d);
    p.w_ih.insert(p.w_ih.end(), w.w_ih.begin(), w.w_ih.end());
    p.w_hh.insert(p.w_hh.end(), w.w_hh.begin(), w.w_hh.end());
    p.w_hr.insert(p.w_hr.end(), w.w_hr.begin(), w.w_hr.end());
    for (int r = 0; r < 4 * H; ++r) p.bias.push_back(w.b_ih.at(r) + w.b_hh.at(r));
    if (desc.peepholes) p.peephole.insert(p.peephole.end(), w.peephole.begin(), w.peephole.end());
  }
  return p;
}

namespace {

detail::DeviceBuffer upload_bytes(const std::vector<std::uint8_t>& bytes) {
  detail::DeviceBuffer buffer(bytes.size());
  if (!bytes.empty()) LSTMRT_CUDA_CHECK(cudaMemcpy(buffer.get(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
  return buffer;
}

}  // namespace

std::vector<DeviceLayer> upload_weights(const ModelDesc& desc, const Weights& weights, DataType type) {
  std::vector<DeviceLayer> layers;
  for (int l = 0; l < desc.num_layers; ++l) {
    const PackedLayer p = pack_layer(desc, weights, l);
    DeviceLayer d;
    d.w_ih = upload_bytes(detail::to_storage(p.w_ih, type));
    d.w_hh = upload_bytes(detail::to_storage(p.w_hh, type));
    d.w_hr = upload_bytes(detail::to_storage(p.w_hr, type));
    d.bias = upload_bytes(detail::to_storage(p.bias, DataType::kFloat32));
    d.peephole = upload_bytes(detail::to_storage(p.peephole, DataType::kFloat32));
    layers.push_back(std::move(d));
  }
  return layers;
}

}  // namespace lstmrt::fused
