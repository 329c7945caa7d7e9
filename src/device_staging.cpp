// Lstm::forward_host for device backends: host float32 in, device data type on the GPU, host
// float32 out. This path allocates and synchronises by design; Lstm::forward never does.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "backend.hpp"
#include "common/device_buffer.hpp"
#include "common/device_guard.hpp"
#include "common/elements.hpp"

namespace lstmrt {
namespace {

// Host float32 → device storage of type `t`.
detail::DeviceBuffer upload(const float* host, std::size_t count, DataType t) {
  detail::DeviceBuffer buffer(count * detail::element_bytes(t));
  const std::vector<std::uint8_t> bytes = detail::to_storage(host, count, t);
  if (!bytes.empty()) LSTMRT_CUDA_CHECK(cudaMemcpy(buffer.get(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
  return buffer;
}

void download(const detail::DeviceBuffer& buffer, float* host, std::size_t count, DataType t) {
  std::vector<std::uint8_t> raw(count * detail::element_bytes(t));
  if (!raw.empty()) LSTMRT_CUDA_CHECK(cudaMemcpy(raw.data(), buffer.get(), raw.size(), cudaMemcpyDeviceToHost));
  detail::from_storage(raw.data(), count, t, host);
}

}  // namespace

void forward_staged(Backend& backend, const ForwardRequest& req) {
  const ModelDesc& desc = backend.desc();
  const DataType t = backend.options().data_type;
  const detail::DeviceGuard guard(backend.options().device);  // the buffers below live on the backend's device
  const std::size_t steps_rows = static_cast<std::size_t>(req.seq_len) * req.batch;
  const std::size_t states = static_cast<std::size_t>(desc.num_layers) * desc.num_directions() * req.batch;
  const std::size_t x_count = steps_rows * desc.input_size;
  const std::size_t y_count = steps_rows * desc.num_directions() * desc.output_size();
  const std::size_t h_count = states * desc.output_size();
  const std::size_t c_count = states * desc.hidden_size;

  ForwardRequest device_req = req;
  detail::DeviceBuffer x = upload(static_cast<const float*>(req.x), x_count, t);
  detail::DeviceBuffer h0, c0, y, h_n, c_n;
  device_req.x = x.get();
  if (req.h0) {
    h0 = upload(static_cast<const float*>(req.h0), h_count, t);
    c0 = upload(static_cast<const float*>(req.c0), c_count, t);
    device_req.h0 = h0.get();
    device_req.c0 = c0.get();
  }
  if (req.y) y = detail::DeviceBuffer(y_count * detail::element_bytes(t)), device_req.y = y.get();
  if (req.h_n) h_n = detail::DeviceBuffer(h_count * detail::element_bytes(t)), device_req.h_n = h_n.get();
  if (req.c_n) c_n = detail::DeviceBuffer(c_count * detail::element_bytes(t)), device_req.c_n = c_n.get();

  cudaStream_t stream = nullptr;
  LSTMRT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  try {
    backend.forward(device_req, stream);
    LSTMRT_CUDA_CHECK(cudaStreamSynchronize(stream));
    backend.check_persistent_status();  // a kernel that gave up (fused persistent variants): outputs invalid
  } catch (...) {
    cudaStreamDestroy(stream);
    throw;
  }
  LSTMRT_CUDA_CHECK(cudaStreamDestroy(stream));
  if (req.y) download(y, static_cast<float*>(req.y), y_count, t);
  if (req.h_n) download(h_n, static_cast<float*>(req.h_n), h_count, t);
  if (req.c_n) download(c_n, static_cast<float*>(req.c_n), c_count, t);
}

}  // namespace lstmrt
