// Internal: the cudnn backend object. Creation (cudnn_backend.cpp) sets up one RNN descriptor and
// weight space per algorithm cuDNN accepts for the model; reserve (cudnn_reserve.cpp) sizes the
// workspace, builds PERSIST_DYNAMIC plans and, for algorithm auto, times the candidates once per
// shape; forward (cudnn_forward.cpp) only sets host descriptors and enqueues work.
#pragma once

#include <cudnn.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "common/device_buffer.hpp"
#include "cudnn/cudnn_descriptors.hpp"
#include "cudnn/cudnn_plan.hpp"
#include "cudnn/cudnn_weights.hpp"

namespace lstmrt::cudnn {

// One cuDNN algorithm set up for the model.
struct AlgoState {
  CudnnAlgo algo = CudnnAlgo::kStandard;
  RnnDesc rnn;                   // every algorithm but PERSIST_DYNAMIC
  std::map<int, RnnDesc> built;  // PERSIST_DYNAMIC: one descriptor built per batch size
  int weights = 0;               // index into CudnnBackend::weight_spaces_
};

// cudnnSetRNNDescriptor_v8 with `p`; returns cuDNN's status.
cudnnStatus_t set_rnn_descriptor(cudnnRNNDescriptor_t rnn, const RnnDescParams& p, cudnnDropoutDescriptor_t dropout);

class CudnnBackend final : public Backend {
 public:
  CudnnBackend(const ModelDesc& desc, const Weights& weights, const BackendOptions& options);

  std::string name() const override { return "cudnn"; }
  MemorySpace memory_space() const override { return MemorySpace::kDevice; }
  void check_request(const ForwardRequest& req) const override;
  void forward(const ForwardRequest& req, cudaStream_t stream) override;
  std::size_t workspace_size(int seq_len, int batch) const override;
  void reserve(int seq_len, int batch) override;

  // For tests and benchmarks: the algorithms set up at creation, and the ranking auto chose for a
  // reserved shape (fastest first; empty when none was timed).
  std::vector<CudnnAlgo> algorithms() const;
  std::vector<CudnnAlgo> ranking(int seq_len, int batch) const;

 private:
  // The descriptor of `state` for `batch`; null when PERSIST_DYNAMIC was not built for it.
  cudnnRNNDescriptor_t descriptor_for(const AlgoState& state, int batch) const;
  const AlgoState* state_of(CudnnAlgo algo) const;
  // Sets x_desc_/y_desc_ (and h/c descriptors) for plan_ (a request in `layout`); host calls only.
  // A shape cuDNN refuses throws kUnsupported naming it, any other failure kCudaError.
  void set_data_descriptors(TensorLayout layout) const;
  // cuDNN's work-space bytes for `rnn` on the current descriptors; cuDNN's status is returned (bytes
  // left 0 unless SUCCESS): the caller asks status_action what it means.
  cudnnStatus_t temp_space(cudnnRNNDescriptor_t rnn, std::size_t& bytes) const;
  // Whether `algo` is dropped on any failure (algorithm auto, every algorithm but STANDARD).
  bool droppable(CudnnAlgo algo) const {
    return options().cudnn_algo == CudnnAlgo::kAuto && algo != CudnnAlgo::kStandard;
  }
  // The algorithms to try for this request, in order (auto: the reserved ranking, then STANDARD).
  void algorithms_for_request(std::vector<CudnnAlgo>& out) const;
  void enqueue(const ForwardRequest& req, cudaStream_t stream);
  // Times every algorithm that accepts (T, N) and stores the ranking.
  void tune(int seq_len, int batch);

  int device_;
  Handle handle_;
  DropoutDesc dropout_;
  std::vector<AlgoState> algos_;
  std::vector<WeightSpace> weight_spaces_;
  // Per-call descriptors and plan, reused (mutable: workspace_size() queries cuDNN through them).
  mutable RnnDataDesc x_desc_, y_desc_;
  mutable TensorDesc h_desc_, c_desc_;
  mutable DataPlan plan_;
  std::vector<std::int32_t> host_lengths_;  // 2N: true lengths, then cuDNN's
  std::vector<CudnnAlgo> try_order_;
  std::optional<CudnnAlgo> forced_;  // set while tune() times one algorithm
  // Owned workspace and the shapes reserve() covered.
  detail::DeviceBuffer workspace_;
  std::vector<std::pair<int, int>> reserved_;
  std::map<std::pair<int, int>, std::vector<CudnnAlgo>> rankings_;
};

}  // namespace lstmrt::cudnn
