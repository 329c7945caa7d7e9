// The cudnn backend's reserve(): everything a shape needs before forward may run without
// allocating — PERSIST_DYNAMIC plans built for the batch size, the owned workspace, and for
// algorithm auto one timing of every algorithm cuDNN accepts for the shape (common/autotune.hpp;
// the ranking kept).
// reserve() allocates and synchronises by design.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <random>

#include "common/autotune.hpp"
#include "common/check.hpp"
#include "common/cuda_check.hpp"
#include "common/device_guard.hpp"
#include "cudnn/cudnn_backend.hpp"
#include "cudnn/cudnn_check.hpp"

namespace lstmrt::cudnn {
namespace {

// Device buffer of `count` elements of `type` holding uniform values in [−1, 1) (never time on
// zeros: some kernels shortcut them). A 64K-element random pattern is repeated to fill it.
detail::DeviceBuffer random_device_data(std::size_t count, DataType type) {
  const std::size_t e = detail::element_bytes(type);
  detail::DeviceBuffer buffer(count * e);
  const std::size_t pattern_count = std::min<std::size_t>(count, 1u << 16);
  std::vector<unsigned char> pattern(pattern_count * e);
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (std::size_t k = 0; k < pattern_count; ++k) detail::store_element(dist(rng), type, pattern.data() + k * e);
  for (std::size_t done = 0; done < count; done += pattern_count) {
    const std::size_t n = std::min(pattern_count, count - done);
    LSTMRT_CUDA_CHECK(cudaMemcpy(buffer.as<unsigned char>() + done * e, pattern.data(), n * e, cudaMemcpyHostToDevice));
  }
  return buffer;
}

}  // namespace

void CudnnBackend::reserve(int seq_len, int batch) {
  const detail::DeviceGuard guard(device_);
  const ModelDesc& m = desc();
  const bool automatic = options().cudnn_algo == CudnnAlgo::kAuto;

  // PERSIST_DYNAMIC: a descriptor compiled for this batch size (cudnnBuildRNNDynamic, costly).
  for (AlgoState& state : algos_) {
    if (state.algo != CudnnAlgo::kPersistDynamic || state.built.count(batch)) continue;
    RnnDesc rnn = RnnDesc::create();
    const char* call = "cudnnSetRNNDescriptor_v8";
    cudnnStatus_t status = set_rnn_descriptor(rnn.get(), rnn_desc_params(m, options(), state.algo), dropout_.get());
    if (status == CUDNN_STATUS_SUCCESS) {
      call = "cudnnBuildRNNDynamic";
      status = cudnnBuildRNNDynamic(handle_.get(), rnn.get(), batch);
    }
    if (status != CUDNN_STATUS_SUCCESS) {
      // auto: this algorithm simply does not serve this batch size, whatever cuDNN said.
      const StatusAction action = status_action(status, droppable(state.algo));
      if (action == StatusAction::kDrop) continue;
      if (action == StatusAction::kFail) detail::fail_cudnn(status, call, __FILE__, __LINE__);
      detail::unsupported("backend cudnn: algorithm persist_dynamic cannot serve batch {}: {}: {}", batch, call,
                          detail::cudnn_status_text(status));
    }
    // The built plan must use the weight space packed at creation.
    const WeightSpace& w = weight_spaces_[state.weights];
    if (query_weight_placements(handle_.get(), rnn.get(), m, w.bytes(), w.buffer.get()) != w.placements)
      detail::fail(ErrorCode::kInternal, "backend cudnn: persist_dynamic built for batch {} changed its weight layout",
                   batch);
    state.built.emplace(batch, std::move(rnn));
  }

  // An explicitly chosen algorithm that cannot take this shape is reported now, not in forward.
  if (!automatic) {
    ForwardRequest probe;
    probe.seq_len = seq_len;
    probe.batch = batch;
    plan_forward(m, options(), probe, plan_);
    set_data_descriptors(probe.layout);
    const AlgoState& state = algos_.front();
    std::size_t bytes = 0;
    const cudnnRNNDescriptor_t rnn = descriptor_for(state, batch);
    const cudnnStatus_t status = rnn ? temp_space(rnn, bytes) : CUDNN_STATUS_NOT_SUPPORTED;
    if (status != CUDNN_STATUS_SUCCESS) {
      if (status_action(status, false) == StatusAction::kFail)
        detail::fail_cudnn(status, "cudnnGetRNNTempSpaceSizes", __FILE__, __LINE__);
      detail::unsupported("backend cudnn: algorithm {} cannot serve {}: cudnnGetRNNTempSpaceSizes: {}",
                          to_string(state.algo), describe_shape(seq_len, batch, true, probe.layout),
                          detail::cudnn_status_text(status));
    }
  }

  const std::size_t bytes = workspace_size(seq_len, batch);
  if (workspace_.bytes() < bytes) workspace_ = detail::DeviceBuffer(bytes);  // cudaFree waits for the device
  const bool covered = std::any_of(reserved_.begin(), reserved_.end(), [&](const std::pair<int, int>& r) {
    return seq_len <= r.first && batch <= r.second;
  });
  if (!covered) reserved_.emplace_back(seq_len, batch);
  host_lengths_.reserve(2 * static_cast<std::size_t>(batch));
  plan_.cudnn_lengths.reserve(static_cast<std::size_t>(batch));

  if (automatic && algos_.size() > 1 && !rankings_.count({seq_len, batch})) tune(seq_len, batch);
}

void CudnnBackend::tune(int seq_len, int batch) {
  const ModelDesc& m = desc();
  const DataType type = options().data_type;
  const std::size_t states = static_cast<std::size_t>(num_pseudo_layers(m)) * batch;
  detail::DeviceBuffer x = random_device_data(static_cast<std::size_t>(seq_len) * batch * m.input_size, type);
  detail::DeviceBuffer h_n(states * m.output_size() * detail::element_bytes(type));

  ForwardRequest req;  // every row runs T steps; y goes to the workspace scratch, as cuDNN always writes it
  req.seq_len = seq_len;
  req.batch = batch;
  req.x = x.get();
  req.h_n = h_n.get();
  req.workspace = workspace_.get();
  req.workspace_bytes = workspace_.bytes();

  // An algorithm that refuses the shape, whatever status cuDNN gave (enqueue reports every status
  // of an algorithm but STANDARD as kUnsupported under auto), or whose dynamic plan was not built
  // for it, is dropped. A failure of the device itself is real: it propagates (the autotuner's
  // synchronisation after a dropped algorithm reports a sticky error it left behind).
  detail::AutotuneCandidates candidates;
  candidates.count = static_cast<int>(algos_.size());
  candidates.run = [&](int i, cudaStream_t stream) {
    forced_ = algos_[i].algo;
    try {
      enqueue(req, stream);
    } catch (...) {
      forced_.reset();
      throw;
    }
    forced_.reset();
  };
  candidates.skips = [](const Error& e) {
    return e.code() == ErrorCode::kUnsupported || e.code() == ErrorCode::kInvalidArgument;
  };
  const detail::AutotuneResult timed = detail::autotune(candidates);
  std::vector<CudnnAlgo> ranked;
  for (int i : timed.ranking) ranked.push_back(algos_[i].algo);
  rankings_[{seq_len, batch}] = std::move(ranked);
}

}  // namespace lstmrt::cudnn
