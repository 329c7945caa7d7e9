// The Lstm object: validation, backend choice, dispatch.
#include <utility>

#include "backend.hpp"
#include "common/check.hpp"
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
    detail::unsupported("backend auto: no GPU backend can serve {} data here and the reference backend computes "
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
  if (options.kind == BackendKind::kAuto) return Lstm(make_auto_backend(desc, weights, options));
  return Lstm(make_backend(desc, weights, options));
}

const ModelDesc& Lstm::desc() const { return impl_->desc(); }
const BackendOptions& Lstm::options() const { return impl_->options(); }
std::string Lstm::backend_name() const { return impl_->name(); }
MemorySpace Lstm::memory_space() const { return impl_->memory_space(); }

std::size_t Lstm::workspace_size(int seq_len, int batch) const {
  if (seq_len < 1 || batch < 1) detail::invalid("workspace_size({}, {}): expected seq_len >= 1 and batch >= 1", seq_len, batch);
  return impl_->workspace_size(seq_len, batch);
}

std::size_t Lstm::host_workspace_size(int seq_len, int batch) const {
  if (seq_len < 1 || batch < 1)
    detail::invalid("host_workspace_size({}, {}): expected seq_len >= 1 and batch >= 1", seq_len, batch);
  if (impl_->memory_space() == MemorySpace::kHost) return impl_->host_workspace_size(seq_len, batch);
  return staged_host_bytes(*impl_, seq_len, batch);
}

void Lstm::reserve(int seq_len, int batch) {
  if (seq_len < 1 || batch < 1) detail::invalid("reserve({}, {}): expected seq_len >= 1 and batch >= 1", seq_len, batch);
  impl_->reserve(seq_len, batch);
}

std::string Lstm::execution_plan(int seq_len, int batch) const {
  if (seq_len < 1 || batch < 1) detail::invalid("execution_plan({}, {}): expected seq_len >= 1 and batch >= 1", seq_len, batch);
  return impl_->execution_plan(seq_len, batch);
}

void Lstm::check_device_errors() { impl_->check_device_errors(); }

void Lstm::forward(const ForwardRequest& req, cudaStream_t stream) {
  validate(impl_->desc(), req);
  impl_->check_request(req);
  impl_->forward(req, stream);
}

void Lstm::forward_host(const ForwardRequest& req) {
  validate(impl_->desc(), req);
  impl_->check_request(req);
  if (impl_->memory_space() == MemorySpace::kHost) {
    impl_->forward(req, nullptr);
  } else {
    impl_->reserve(req.seq_len, req.batch);
    forward_staged(*impl_, req);
  }
}

std::string to_string(BackendKind kind) {
  switch (kind) {
    case BackendKind::kReference: return "reference";
    case BackendKind::kCudnn: return "cudnn";
    case BackendKind::kFused: return "fused";
    case BackendKind::kAuto: return "auto";
  }
  return "unknown";
}

BackendKind backend_from_string(const std::string& name) {
  for (BackendKind k : {BackendKind::kReference, BackendKind::kCudnn, BackendKind::kFused, BackendKind::kAuto})
    if (name == to_string(k)) return k;
  detail::invalid("unknown backend '{}': expected reference, cudnn, fused or auto", name);
}

std::string to_string(DataType t) {
  switch (t) {
    case DataType::kFloat32: return "float32";
    case DataType::kFloat16: return "float16";
    case DataType::kBFloat16: return "bfloat16";
  }
  return "unknown";
}

std::string to_string(CudnnAlgo a) {
  switch (a) {
    case CudnnAlgo::kAuto: return "auto";
    case CudnnAlgo::kStandard: return "standard";
    case CudnnAlgo::kPersistStatic: return "persist_static";
    case CudnnAlgo::kPersistStaticSmallH: return "persist_static_small_h";
    case CudnnAlgo::kPersistDynamic: return "persist_dynamic";
  }
  return "unknown";
}

std::string to_string(FusedKernel k) {
  switch (k) {
    case FusedKernel::kAuto: return "auto";
    case FusedKernel::kStepwise: return "stepwise";
    case FusedKernel::kPersistent: return "persistent";
    case FusedKernel::kCluster: return "cluster";
  }
  return "unknown";
}

FusedKernel fused_kernel_from_string(const std::string& name) {
  for (FusedKernel k : {FusedKernel::kAuto, FusedKernel::kStepwise, FusedKernel::kPersistent, FusedKernel::kCluster})
    if (name == to_string(k)) return k;
  detail::invalid("unknown fused kernel '{}': expected auto, stepwise, persistent or cluster", name);
}

}  // namespace lstmrt
