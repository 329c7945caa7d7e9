// The cudnn backend: creation (descriptors and weight spaces, once) and request checks.
#include "cudnn/cudnn_backend.hpp"

#include <cuda_runtime_api.h>

#include "common/check.hpp"
#include "common/cuda_check.hpp"
#include "common/device_guard.hpp"
#include "cudnn/cudnn_check.hpp"
#include "request_mask.hpp"

namespace lstmrt {
namespace cudnn {

cudnnStatus_t set_rnn_descriptor(cudnnRNNDescriptor_t rnn, const RnnDescParams& p, cudnnDropoutDescriptor_t dropout) {
  return cudnnSetRNNDescriptor_v8(rnn, p.algo, p.cell_mode, p.bias_mode, p.dir_mode, p.input_mode, p.data_type,
                                  p.math_prec, p.math_type, p.input_size, p.hidden_size, p.proj_size, p.num_layers,
                                  dropout, p.aux_flags);
}

CudnnBackend::CudnnBackend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options)
    : Backend(desc, options), device_(options.device) {
  check_model_supported(desc);
  const detail::DeviceGuard guard(device_);
  // A cuDNN that cannot start here (library or driver mismatch) is "this machine cannot serve",
  // so that backend auto moves on instead of failing.
  try {
    handle_ = Handle::create();
  } catch (const Error& e) {
    detail::unsupported("backend cudnn cannot start cuDNN on device {}: {}", device_, e.what());
  }
  // bfloat16 data: only a recent enough cuDNN (the one loaded now, not the headers') on a recent
  // enough device runs it.
  if (options.data_type == DataType::kBFloat16) {
    int compute_major = 0;
    LSTMRT_CUDA_CHECK(cudaDeviceGetAttribute(&compute_major, cudaDevAttrComputeCapabilityMajor, device_));
    const std::string why = bf16_refusal(cudnnGetVersion(), compute_major);
    if (!why.empty()) detail::unsupported("backend cudnn cannot serve bfloat16 data on device {}: {}", device_, why);
  }
  dropout_ = DropoutDesc::create();
  // Inference: dropout p = 0, no RNG states.
  LSTMRT_CUDNN_CHECK(cudnnSetDropoutDescriptor(dropout_.get(), handle_.get(), 0.0f, nullptr, 0, 0));

  const bool automatic = options.cudnn_algo == CudnnAlgo::kAuto;
  std::string refusals;
  for (CudnnAlgo algo : candidate_algos(desc, options.cudnn_algo)) {
    AlgoState state;
    state.algo = algo;
    state.rnn = RnnDesc::create();
    const char* call = "cudnnSetRNNDescriptor_v8";
    cudnnStatus_t status = set_rnn_descriptor(state.rnn.get(), rnn_desc_params(desc, options, algo), dropout_.get());
    WeightSpace space;
    // auto: an algorithm other than STANDARD that fails to set up, however, is left out.
    const bool droppable = automatic && algo != CudnnAlgo::kStandard;
    std::string failure;
    if (status == CUDNN_STATUS_SUCCESS) {
      call = "cudnnGetRNNWeightSpaceSize";
      try {
        status = build_weight_space(handle_.get(), state.rnn.get(), desc, weights, options.data_type, space);
      } catch (const Error& e) {
        if (!droppable) throw;
        failure = e.what();
      }
    }
    if (status != CUDNN_STATUS_SUCCESS || !failure.empty()) {
      if (failure.empty()) {
        if (status_action(status, droppable) == StatusAction::kFail)
          detail::fail_cudnn(status, call, __FILE__, __LINE__);
        failure = fmt::format("{}: {}", call, detail::cudnn_status_text(status));
      }
      refusals += fmt::format("{}{}: {}", refusals.empty() ? "" : "; ", to_string(algo), failure);
      continue;
    }
    // Algorithms whose weight spaces are laid out alike share one copy of the weights.
    state.weights = -1;
    for (std::size_t k = 0; k < weight_spaces_.size(); ++k)
      if (weight_spaces_[k].bytes() == space.bytes() && weight_spaces_[k].placements == space.placements)
        state.weights = static_cast<int>(k);
    if (state.weights < 0) {
      state.weights = static_cast<int>(weight_spaces_.size());
      weight_spaces_.push_back(std::move(space));
    }
    algos_.push_back(std::move(state));
  }
  if (algos_.empty())
    detail::unsupported("backend cudnn cannot serve {} with {} data: cuDNN {} refused {} ({})", describe(desc),
                        to_string(options.data_type), cudnnGetVersion(),
                        options.cudnn_algo == CudnnAlgo::kAuto ? "every algorithm" : "the algorithm", refusals);

  x_desc_ = RnnDataDesc::create();
  y_desc_ = RnnDataDesc::create();
  h_desc_ = TensorDesc::create();
  c_desc_ = TensorDesc::create();
  try_order_.reserve(8);
}

const AlgoState* CudnnBackend::state_of(CudnnAlgo algo) const {
  for (const AlgoState& s : algos_)
    if (s.algo == algo) return &s;
  return nullptr;
}

cudnnRNNDescriptor_t CudnnBackend::descriptor_for(const AlgoState& state, int batch) const {
  if (state.algo != CudnnAlgo::kPersistDynamic) return state.rnn.get();
  const auto it = state.built.find(batch);
  return it == state.built.end() ? nullptr : it->second.get();
}

std::vector<CudnnAlgo> CudnnBackend::algorithms() const {
  std::vector<CudnnAlgo> out;
  for (const AlgoState& s : algos_) out.push_back(s.algo);
  return out;
}

std::vector<CudnnAlgo> CudnnBackend::ranking(int seq_len, int batch) const {
  const auto it = rankings_.find({seq_len, batch});
  return it == rankings_.end() ? std::vector<CudnnAlgo>{} : it->second;
}

void CudnnBackend::check_request(const ForwardRequest& req) const {
  check_mask_supported(req);
  const CudnnAlgo algo = options().cudnn_algo;
  if (algo == CudnnAlgo::kAuto || algo_accepts_unequal_lengths(algo) || (!req.lengths && !req.mask)) return;
  // Lengths as cuDNN sees them (a mask's valid steps; 0 runs as 1).
  auto length = [&](int b) { return req.lengths ? req.lengths[b] : mask_row(req.mask, req.seq_len, b).count; };
  auto seen = [&](int b) { return length(b) == 0 ? 1 : length(b); };
  for (int b = 1; b < req.batch; ++b) {
    if (seen(b) != seen(0))
      detail::unsupported(
          "backend cudnn with algorithm {} cannot serve unequal lengths within a batch "
          "({}[0] = {}, [{}] = {}): use algorithm standard or auto",
          to_string(algo), req.lengths ? "lengths" : "valid steps of mask row", length(0), b, length(b));
  }
}

}  // namespace cudnn

std::unique_ptr<Backend> make_cudnn_backend(const ModelDesc& desc, const Weights& weights,
                                            const BackendOptions& options) {
  return std::make_unique<cudnn::CudnnBackend>(desc, weights, options);
}

}  // namespace lstmrt
