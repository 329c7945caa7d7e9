// The Lstm object: validation, backend choice, dispatch.
#include <algorithm>
#include <utility>

#include "backend.hpp"
#include "common/check.hpp"
#include "common/elements.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt {
namespace {

std::unique_ptr<Backend> make_backend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options) {
  switch (options.kind) {
    case BackendKind::kReference: return make_reference_backend(desc, weights, options);
    case BackendKind::kCudnn:
    case BackendKind::kFused: return make_gpu_backend(desc, weights, options);
    case BackendKind::kAuto: break;
  }
  detail::invalid("backend kind {} is not one of reference, cudnn, fused, auto", static_cast<int>(options.kind));
}

// auto: the fastest backend that can serve the model here. GPU backends first (fused, then cudnn);
// a GPU backend's refusal (kUnsupported/kNoDevice) moves on; the reference serves everything.
std::unique_ptr<Backend> make_auto_backend(const ModelDesc& desc, const Weights& weights, BackendOptions options) {
  if (gpu_available()) {
    for (BackendKind kind : {BackendKind::kFused, BackendKind::kCudnn}) {
      options.kind = kind;
      try {
        return make_gpu_backend(desc, weights, options);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kUnsupported && e.code() != ErrorCode::kNoDevice) throw;
      }
    }
  }
  options.kind = BackendKind::kReference;
  if (options.data_type != DataType::kFloat32) {
    detail::unsupported(
        "backend auto: no GPU backend can serve {} data here and the reference backend computes "
        "float32 only",
        to_string(options.data_type));
  }
  return make_reference_backend(desc, weights, options);
}

}  // namespace

Lstm::Lstm(std::unique_ptr<Backend> impl) : impl_(std::move(impl)) {}
Lstm::Lstm(Lstm&&) noexcept = default;
Lstm& Lstm::operator=(Lstm&&) noexcept = default;
Lstm::~Lstm() = default;

Lstm Lstm::create(const ModelDesc& desc, const Weights& weights, const BackendOptions& options) {
  validate(desc, weights);
  detail::require_storage_type(options.data_type, "BackendOptions::data_type");
  if (options.kind == BackendKind::kAuto) return Lstm(make_auto_backend(desc, weights, options));
  return Lstm(make_backend(desc, weights, options));
}

const ModelDesc& Lstm::desc() const { return impl_->desc(); }
const BackendOptions& Lstm::options() const { return impl_->options(); }
std::string Lstm::backend_name() const { return impl_->name(); }
MemorySpace Lstm::memory_space() const { return impl_->memory_space(); }

std::size_t Lstm::workspace_size(int seq_len, int batch) const {
  if (seq_len < 1 || batch < 1)
    detail::invalid("workspace_size({}, {}): expected seq_len >= 1 and batch >= 1", seq_len, batch);
  return impl_->workspace_size(seq_len, batch);
}

std::size_t Lstm::host_workspace_size(int seq_len, int batch) const {
  if (seq_len < 1 || batch < 1)
    detail::invalid("host_workspace_size({}, {}): expected seq_len >= 1 and batch >= 1", seq_len, batch);
  if (impl_->memory_space() == MemorySpace::kHost) return impl_->host_workspace_size(seq_len, batch);
  // forward_staged (src/device_staging.cpp) copies float32 as it is and converts float16/bfloat16
  // through one host copy (2 bytes per value) of the largest array at a time.
  const ModelDesc& d = impl_->desc();
  if (impl_->options().data_type == DataType::kFloat32) return 0;
  const std::size_t steps_rows = static_cast<std::size_t>(seq_len) * batch;
  const std::size_t states = static_cast<std::size_t>(d.num_layers) * d.num_directions() * batch;
  return 2 * std::max({steps_rows * d.input_size, steps_rows * d.num_directions() * d.output_size(),
                       states * d.hidden_size});
}

void Lstm::reserve(int seq_len, int batch) {
  if (seq_len < 1 || batch < 1)
    detail::invalid("reserve({}, {}): expected seq_len >= 1 and batch >= 1", seq_len, batch);
  impl_->reserve(seq_len, batch);
}

std::string Lstm::execution_plan(int seq_len, int batch) const {
  if (seq_len < 1 || batch < 1)
    detail::invalid("execution_plan({}, {}): expected seq_len >= 1 and batch >= 1", seq_len, batch);
  return impl_->execution_plan(seq_len, batch, false);
}

std::string Lstm::execution_plan(const ForwardRequest& req) const {
  if (req.seq_len < 1 || req.batch < 1)
    detail::invalid("execution_plan: seq_len {} batch {}: expected both >= 1", req.seq_len, req.batch);
  return impl_->execution_plan(req.seq_len, req.batch, req.mask != nullptr);
}

void Lstm::check_persistent_status() { impl_->check_persistent_status(); }

void Lstm::forward(const ForwardRequest& req, cudaStream_t stream) {
  validate(impl_->desc(), req);
  impl_->check_request(req);
  impl_->forward(req, stream);
}

void Lstm::forward_host(const ForwardRequest& req) {
  validate(impl_->desc(), req);
  impl_->check_request(req);
  impl_->forward_host(req);
}

}  // namespace lstmrt
