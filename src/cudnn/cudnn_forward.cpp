// The cudnn backend's forward pass: host descriptor updates, then work enqueued on the caller's
// stream. No device allocation, no synchronisation, no blocking copy (lengths travel in kernel
// parameters), so the whole call can be captured in a CUDA graph.
#include <algorithm>

#include "common/check.hpp"
#include "common/device_guard.hpp"
#include "cudnn/cudnn_backend.hpp"
#include "cudnn/cudnn_check.hpp"
#include "kernels/cudnn_shift.hpp"
#include "kernels/cudnn_transforms.hpp"
#include "kernels/upload_lengths.hpp"

namespace lstmrt::cudnn {
namespace {

unsigned char* at(void* base, std::size_t offset) { return static_cast<unsigned char*>(base) + offset; }

// Host-side padding symbol for cuDNN's output descriptor: 8 zero bytes read as float, half or
// bfloat16 zero alike. With null, padded outputs would be undefined.
double g_padding_fill = 0.0;

}  // namespace

void CudnnBackend::set_data_descriptors(TensorLayout layout) const {
  const DataPlan& p = plan_;
  struct Call {
    const char* name;
    cudnnStatus_t status;
  };
  const Call calls[] = {
      {"cudnnSetRNNDataDescriptor(x)",
       cudnnSetRNNDataDescriptor(x_desc_.get(), p.data_type, p.layout, p.max_seq_len, p.batch, p.x_vector_size,
                                 p.cudnn_lengths.data(), &g_padding_fill)},
      {"cudnnSetRNNDataDescriptor(y)",
       cudnnSetRNNDataDescriptor(y_desc_.get(), p.data_type, p.layout, p.max_seq_len, p.batch, p.y_vector_size,
                                 p.cudnn_lengths.data(), &g_padding_fill)},
      {"cudnnSetTensorNdDescriptor(h)",
       cudnnSetTensorNdDescriptor(h_desc_.get(), p.data_type, 3, p.h_dims.dims, p.h_dims.strides)},
      {"cudnnSetTensorNdDescriptor(c)",
       cudnnSetTensorNdDescriptor(c_desc_.get(), p.data_type, 3, p.c_dims.dims, p.c_dims.strides)},
  };
  for (const Call& c : calls) {
    if (c.status == CUDNN_STATUS_SUCCESS) continue;
    // The shape is refused whatever the algorithm: no algorithm can be tried.
    if (status_action(c.status, false) == StatusAction::kFail) detail::fail_cudnn(c.status, c.name, __FILE__, __LINE__);
    detail::unsupported("backend cudnn (algorithm {}) cannot serve {}: cuDNN refuses the shape: {}: {}",
                        to_string(options().cudnn_algo),
                        describe_shape(p.max_seq_len, p.batch, p.uniform_lengths, layout), c.name,
                        detail::cudnn_status_text(c.status));
  }
}

cudnnStatus_t CudnnBackend::temp_space(cudnnRNNDescriptor_t rnn, std::size_t& bytes) const {
  std::size_t reserve_bytes = 0;
  bytes = 0;
  return cudnnGetRNNTempSpaceSizes(handle_.get(), rnn, CUDNN_FWD_MODE_INFERENCE, x_desc_.get(), &bytes, &reserve_bytes);
}

void CudnnBackend::algorithms_for_request(std::vector<CudnnAlgo>& out) const {
  out.clear();
  if (forced_) {
    out.push_back(*forced_);
    return;
  }
  if (options().cudnn_algo != CudnnAlgo::kAuto) {
    out.push_back(options().cudnn_algo);
    return;
  }
  // auto: the ranking reserve() measured for this exact shape, skipping algorithms that cannot
  // take this batch's lengths; STANDARD (which serves everything) last.
  const auto it = rankings_.find({plan_.max_seq_len, plan_.batch});
  if (it != rankings_.end())
    for (CudnnAlgo a : it->second)
      if (plan_.uniform_lengths || algo_accepts_unequal_lengths(a)) out.push_back(a);
  if (std::find(out.begin(), out.end(), CudnnAlgo::kStandard) == out.end()) out.push_back(CudnnAlgo::kStandard);
}

std::size_t CudnnBackend::workspace_size(int seq_len, int batch) const {
  const detail::DeviceGuard guard(device_);
  ForwardRequest probe;  // only its shape matters to the plan; pointers are never touched
  probe.seq_len = seq_len;
  probe.batch = batch;
  std::size_t most = 0;
  // The work space may depend on the layout (batch-major can need a transpose): take the larger.
  for (TensorLayout layout : {TensorLayout::kTimeMajor, TensorLayout::kBatchMajor}) {
    probe.layout = layout;
    plan_forward(desc(), options(), probe, plan_);
    set_data_descriptors(layout);
    for (const AlgoState& state : algos_) {
      const cudnnRNNDescriptor_t rnn = descriptor_for(state, batch);
      std::size_t bytes = 0;
      if (!rnn) continue;
      const cudnnStatus_t status = temp_space(rnn, bytes);
      if (status == CUDNN_STATUS_SUCCESS) {
        most = std::max(most, bytes);
      } else if (status_action(status, droppable(state.algo)) == StatusAction::kFail) {
        detail::fail_cudnn(status, "cudnnGetRNNTempSpaceSizes", __FILE__, __LINE__);
      }  // else: this algorithm cannot serve the shape (reserve and forward say so where it matters)
    }
  }
  return workspace_layout(desc(), options().data_type, seq_len, batch, most).total;
}

void CudnnBackend::forward(const ForwardRequest& req, cudaStream_t stream) {
  const detail::DeviceGuard guard(device_);
  enqueue(req, stream);
}

void CudnnBackend::enqueue(const ForwardRequest& req, cudaStream_t stream) {
  const ModelDesc& m = desc();
  const DataType type = options().data_type;
  const int T = req.seq_len, N = req.batch;
  plan_forward(m, options(), req, plan_);
  set_data_descriptors(req.layout);

  // Workspace: the caller's, or the one reserve() sized for a covering shape.
  const WorkspaceLayout base = workspace_layout(m, type, T, N, 0);
  void* workspace = req.workspace;
  std::size_t workspace_bytes = req.workspace_bytes;
  if (workspace) {
    if (reinterpret_cast<std::uintptr_t>(workspace) % kWorkspaceAlignment != 0)
      detail::invalid("workspace is not {}-byte aligned: expected memory from cudaMalloc or an aligned offset",
                      kWorkspaceAlignment);
  } else {
    const bool covered = std::any_of(reserved_.begin(), reserved_.end(),
                                     [&](const std::pair<int, int>& r) { return T <= r.first && N <= r.second; });
    if (!covered)
      detail::invalid(
          "backend cudnn: no workspace given and seq_len {} batch {} exceeds every reserved shape: "
          "call reserve({}, {}) first or pass ForwardRequest::workspace",
          T, N, T, N);
    workspace = workspace_.get();
    workspace_bytes = workspace_.bytes();
  }
  if (workspace_bytes < base.total)
    detail::invalid("workspace_bytes is {}: expected at least workspace_size({}, {}) = {}", workspace_bytes, T, N,
                    workspace_size(T, N));

  // Device lengths: the true ones (for our kernels), then cuDNN's (zeros raised to 1).
  host_lengths_.resize(2 * static_cast<std::size_t>(N));
  for (int b = 0; b < N; ++b) {
    host_lengths_[b] = plan_.true_lengths[b];
    host_lengths_[N + b] = plan_.cudnn_lengths[b];
  }
  auto* d_lengths = reinterpret_cast<std::int32_t*>(at(workspace, base.lengths_offset));
  const std::int32_t* d_true_lengths = d_lengths;
  const std::int32_t* d_cudnn_lengths = d_lengths + N;
  kernels::upload_lengths(host_lengths_.data(), 2 * N, d_lengths, stream);

  const void* x = req.x;
  if (plan_.left_padded) {  // valid steps to the front of each row (reversed too for a reversed run)
    kernels::ShiftRowsParams r{};
    r.src = req.x;
    r.dst = at(workspace, base.x_scratch_offset);
    r.lengths = d_true_lengths;
    r.steps = T;
    r.rows = N;
    r.width = m.input_size;
    r.batch_major = req.layout == TensorLayout::kBatchMajor;
    r.reversed_run = plan_.reversed_run;
    r.element_bytes = static_cast<int>(detail::element_bytes(type));
    kernels::launch_shift_rows(r, stream);
    x = r.dst;
  } else if (plan_.reversed_run) {
    kernels::ReverseRowsParams r{};
    r.src = req.x;
    r.dst = at(workspace, base.x_scratch_offset);
    r.lengths = d_cudnn_lengths;
    r.steps = T;
    r.rows = N;
    r.width = m.input_size;
    r.batch_major = req.layout == TensorLayout::kBatchMajor;
    r.element_bytes = static_cast<int>(detail::element_bytes(type));
    kernels::launch_reverse_rows(r, stream);
    x = r.dst;
  }
  void* y = plan_.y_to_scratch ? at(workspace, base.y_scratch_offset) : req.y;

  LSTMRT_CUDNN_CHECK(cudnnSetStream(handle_.get(), stream));
  algorithms_for_request(try_order_);
  std::string refusals;
  bool done = false;
  for (CudnnAlgo algo : try_order_) {
    const AlgoState* state = state_of(algo);
    if (!state) {
      refusals += fmt::format("{}{}: refused by cuDNN at creation", refusals.empty() ? "" : "; ", to_string(algo));
      continue;
    }
    const cudnnRNNDescriptor_t rnn = descriptor_for(*state, N);
    if (!rnn) {
      if (options().cudnn_algo != CudnnAlgo::kAuto)
        detail::invalid(
            "backend cudnn: algorithm persist_dynamic is built per batch size and batch {} was not: "
            "call reserve({}, {}) first",
            N, T, N);
      continue;
    }
    std::size_t work_bytes = 0;
    const char* call = "cudnnGetRNNTempSpaceSizes";
    cudnnStatus_t status = temp_space(rnn, work_bytes);
    if (status == CUDNN_STATUS_SUCCESS) {
      const WorkspaceLayout layout = workspace_layout(m, type, T, N, work_bytes);
      if (workspace_bytes < layout.total && options().cudnn_algo == CudnnAlgo::kAuto && algo != CudnnAlgo::kStandard) {
        // auto: a workspace sized before this algorithm was set up (e.g. a persist_dynamic built
        // later) is no error; the next algorithm in the ranking serves.
        refusals +=
            fmt::format("{}{}: needs {} workspace bytes", refusals.empty() ? "" : "; ", to_string(algo), layout.total);
        continue;
      }
      if (workspace_bytes < layout.total)
        detail::invalid("workspace_bytes is {}: algorithm {} needs {} for seq_len {} batch {}{}", workspace_bytes,
                        to_string(algo), layout.total, T, N, req.workspace ? "" : " (call reserve with this shape)");
      const WeightSpace& w = weight_spaces_[state->weights];
      call = "cudnnRNNForward";
      status =
          cudnnRNNForward(handle_.get(), rnn, CUDNN_FWD_MODE_INFERENCE, d_cudnn_lengths, x_desc_.get(), x,
                          y_desc_.get(), y, h_desc_.get(), req.h0, req.h_n, c_desc_.get(), req.c0, req.c_n, w.bytes(),
                          w.buffer.get(), layout.cudnn_bytes, at(workspace, layout.cudnn_offset), 0, nullptr);
    }
    if (status == CUDNN_STATUS_SUCCESS) {
      done = true;
      break;
    }
    // A refusal (or, under auto, any status of an algorithm but STANDARD): the next one is tried.
    if (status_action(status, droppable(algo)) == StatusAction::kFail)
      detail::fail_cudnn(status, call, __FILE__, __LINE__);
    refusals += fmt::format("{}{}: {}: {}", refusals.empty() ? "" : "; ", to_string(algo), call,
                            detail::cudnn_status_text(status));
  }
  if (!done)
    detail::unsupported("backend cudnn cannot serve {}: {}", describe_shape(T, N, plan_.uniform_lengths, req.layout),
                        refusals);

  if (plan_.finish_y) {
    kernels::FinishOutputsParams f{};
    f.src = y;
    f.dst = req.y;
    f.lengths = d_true_lengths;
    f.steps = T;
    f.rows = N;
    f.width = m.output_size();
    f.directions = m.num_directions();
    f.batch_major = req.layout == TensorLayout::kBatchMajor;
    f.reversed_run = plan_.reversed_run;
    f.processing = req.reverse_order == ReverseOutputOrder::kProcessing;
    f.carry_last = req.padding == PaddingMode::kCarryLast;
    for (int d = 0; d < m.num_directions(); ++d) f.slot_reverse[d] = m.is_reverse_slot(d);
    f.element_bytes = static_cast<int>(detail::element_bytes(type));
    if (plan_.left_padded)
      kernels::launch_finish_shifted_outputs(f, stream);
    else
      kernels::launch_finish_outputs(f, stream);
  }
  if (plan_.restore_states) {
    kernels::RestoreStatesParams r{};
    r.h_n = req.h_n;
    r.c_n = req.c_n;
    r.h0 = req.h0;
    r.c0 = req.c0;
    r.lengths = d_true_lengths;
    r.slots = num_pseudo_layers(m);
    r.rows = N;
    r.h_width = m.output_size();
    r.c_width = m.hidden_size;
    r.element_bytes = static_cast<int>(detail::element_bytes(type));
    kernels::launch_restore_states(r, stream);
  }
}

}  // namespace lstmrt::cudnn
