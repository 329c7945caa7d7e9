// Internal: the interface every backend implements. Lstm validates the model, weights and each
// request before a backend sees them, so backends check only what is theirs to refuse.
#pragma once

#include <memory>
#include <string>

#include "lstmrt/lstm.hpp"

namespace lstmrt {

class Backend {
 public:
  Backend(const ModelDesc& desc, const BackendOptions& options) : desc_(desc), options_(options) {}
  virtual ~Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  const ModelDesc& desc() const { return desc_; }
  const BackendOptions& options() const { return options_; }

  virtual std::string name() const = 0;
  virtual MemorySpace memory_space() const = 0;
  // Throws kUnsupported naming the request feature this backend cannot serve (e.g. carry-over
  // padding); the request itself is already valid.
  virtual void check_request(const ForwardRequest& req) const = 0;
  virtual void forward(const ForwardRequest& req, cudaStream_t stream) = 0;
  virtual std::size_t workspace_size(int /*seq_len*/, int /*batch*/) const { return 0; }
  // Host memory forward allocates itself (host backends; Lstm::host_workspace_size).
  virtual std::size_t host_workspace_size(int /*seq_len*/, int /*batch*/) const { return 0; }
  virtual void reserve(int /*seq_len*/, int /*batch*/) {}
  // Lstm::execution_plan / check_device_errors (see lstm.hpp).
  virtual std::string execution_plan(int /*seq_len*/, int /*batch*/) const { return name(); }
  virtual void check_device_errors() {}

 private:
  ModelDesc desc_;
  BackendOptions options_;
};

// Factories. Each validates what it alone cannot serve and throws kUnsupported / kNoDevice with a
// message naming the backend and the feature.
std::unique_ptr<Backend> make_reference_backend(const ModelDesc& desc, const Weights& weights,
                                                const BackendOptions& options);
// make_gpu_backend checks the device, then calls the backend's own factory (src/cudnn, src/fused).
std::unique_ptr<Backend> make_gpu_backend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options);
std::unique_ptr<Backend> make_cudnn_backend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options);
std::unique_ptr<Backend> make_fused_backend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options);

// Runs `req` (host pointers) through a device-memory backend: uploads inputs, runs, downloads the
// requested outputs, synchronises. Used by Lstm::forward_host.
void forward_staged(Backend& backend, const ForwardRequest& req);
// The host bytes forward_staged allocates at its peak for T = seq_len, N = batch.
std::size_t staged_host_bytes(const Backend& backend, int seq_len, int batch);

}  // namespace lstmrt
