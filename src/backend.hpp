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
  // Lstm::forward_host: every pointer in host memory. Host backends compute directly; the GPU
  // module's backends stage through device buffers (forward_staged).
  virtual void forward_host(const ForwardRequest& req) { forward(req, nullptr); }
  virtual std::size_t workspace_size(int /*seq_len*/, int /*batch*/) const { return 0; }
  // Host memory forward allocates itself (host backends; Lstm::host_workspace_size).
  virtual std::size_t host_workspace_size(int /*seq_len*/, int /*batch*/) const { return 0; }
  virtual void reserve(int /*seq_len*/, int /*batch*/) {}
  // Lstm::execution_plan / check_persistent_status (see lstm.hpp).
  virtual std::string execution_plan(int /*seq_len*/, int /*batch*/, bool /*masked*/) const { return name(); }
  virtual void check_persistent_status() {}

 private:
  ModelDesc desc_;
  BackendOptions options_;
};

// Factories. Each validates what it alone cannot serve and throws kUnsupported / kNoDevice with a
// message naming the backend and the feature.
std::unique_ptr<Backend> make_reference_backend(const ModelDesc& desc, const Weights& weights,
                                                const BackendOptions& options);
// make_gpu_backend (core) checks the device, loads the GPU module (gpu_loader.hpp) and creates the
// backend there; the module calls the backend's own factory (src/cudnn, src/fused).
std::unique_ptr<Backend> make_gpu_backend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options);
// In the GPU module (and in tests of its internals) only:
std::unique_ptr<Backend> make_cudnn_backend(const ModelDesc& desc, const Weights& weights,
                                            const BackendOptions& options);
std::unique_ptr<Backend> make_fused_backend(const ModelDesc& desc, const Weights& weights,
                                            const BackendOptions& options);

// Runs `req` (host pointers) through a device-memory backend: uploads inputs, runs, downloads the
// requested outputs, synchronises. The GPU module's forward_host (src/device_staging.cpp).
void forward_staged(Backend& backend, const ForwardRequest& req);

}  // namespace lstmrt
