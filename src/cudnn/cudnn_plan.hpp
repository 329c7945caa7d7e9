// Internal: everything the cudnn backend decides on the host, as plain data and with no cuDNN
// calls, so that it is tested on machines without a GPU. The backend (cudnn_backend.cpp) only
// turns these values into cuDNN descriptor calls.
//
// What cuDNN cannot do and how the plan works around it:
//   - Direction::kReverse: cuDNN has no reverse-only mode. A stack of reverse layers over x equals
//     a stack of forward layers over x reversed per row (step s reads x[len−1−s]), with the
//     outputs reversed back the same way; h_n/c_n are the same either way. So the plan reverses x
//     into scratch, runs UNIDIRECTIONAL, and gathers y back (reversed_run).
//   - lengths[b] == 0: cuDNN rejects it; the row runs as length 1, then its y rows are zeroed and
//     its h_n/c_n restored to h0/c0 (zeros when absent).
//   - Keras go_backwards order and carry-over padding: output transforms of y on the device.
//   - A per-step mask (ForwardRequest::mask): a right-padded one is lengths; a left-padded one
//     (every row's valid steps last) runs with lengths on x shifted per row so that the valid
//     steps come first (kernels/cudnn_shift.hpp), y gathered back; any other mask is refused
//     naming the row (cuDNN has no per-step mask).
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/elements.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt::cudnn {

// ---- what this backend refuses ----------------------------------------------------------------
// The model features cuDNN's LSTM cannot compute, in words ("peepholes", "ONNX clip 2.5", ...);
// empty when cuDNN can serve the model.
std::vector<std::string> unsupported_model_features(const ModelDesc& desc);
// Throws Error(kUnsupported) naming every such feature and "backend cudnn".
void check_model_supported(const ModelDesc& desc);

// ---- algorithms --------------------------------------------------------------------------------
cudnnRNNAlgo_t to_cudnn_algo(CudnnAlgo algo);  // kAuto is not a cuDNN algorithm: kInvalidArgument
// Algorithms worth asking cuDNN about for this model: the chosen one, or for kAuto every algorithm
// not excluded by a documented rule (projection needs STANDARD). STANDARD comes first.
std::vector<CudnnAlgo> candidate_algos(const ModelDesc& desc, CudnnAlgo requested);
// Documented per-request limit: PERSIST_STATIC_SMALL_H rejects unequal lengths within a batch.
bool algo_accepts_unequal_lengths(CudnnAlgo algo);
// First algorithm of `ranked` (fastest first) that can serve a batch with (un)equal lengths;
// STANDARD when none of them can.
CudnnAlgo choose_algo(const std::vector<CudnnAlgo>& ranked, bool uniform_lengths);

// What a status other than SUCCESS from an algorithm's set-up, work-space query, build, timing or
// forward means. A refusal (NOT_SUPPORTED or BAD_PARAM, with their sub-codes: cuDNN's own limits on
// a request lstmrt validated) is kUnsupported naming the algorithm and the shape; any other status
// is a failure (kCudaError). `droppable` (algorithm auto, any algorithm but STANDARD, which serves
// everything and comes last): the algorithm is dropped whatever the status, and the next serves.
enum class StatusAction { kDrop, kRefuse, kFail };
bool is_refusal_status(cudnnStatus_t status);
StatusAction status_action(cudnnStatus_t status, bool droppable);
// The shape of one request in a refusal: "seq_len 12 batch 4 (unequal lengths, batch-major)".
std::string describe_shape(int seq_len, int batch, bool uniform_lengths, TensorLayout layout);

// bfloat16 data through cuDNN's RNN: from cuDNN 9.13.0 (PyTorch enables it from that version:
// pytorch/pytorch#164411 "cuDNN RNN supports BFloat16 inputs since 9.13"; its
// supportsBFloat16RNNWithCuDNN also asks for compute capability 8.0 or newer). Empty when
// `cudnn_version` (cudnnGetVersion(): major·10000 + minor·100 + patch) on a device of
// `compute_major` can, else why not.
constexpr std::size_t kCudnnMinBFloat16Version = 91300;
constexpr int kCudnnMinBFloat16ComputeMajor = 8;
std::string bf16_refusal(std::size_t cudnn_version, int compute_major);

// ---- the RNN descriptor --------------------------------------------------------------------------
// The arguments of cudnnSetRNNDescriptor_v8, in its order.
struct RnnDescParams {
  cudnnRNNAlgo_t algo;
  cudnnRNNMode_t cell_mode;        // CUDNN_LSTM
  cudnnRNNBiasMode_t bias_mode;    // CUDNN_RNN_DOUBLE_BIAS (b_ih and b_hh, as PyTorch)
  cudnnDirectionMode_t dir_mode;   // BIDIRECTIONAL, or UNIDIRECTIONAL for forward and reverse
  cudnnRNNInputMode_t input_mode;  // CUDNN_LINEAR_INPUT
  cudnnDataType_t data_type;       // storage of x, y, h, c and weights
  cudnnDataType_t math_prec;       // always CUDNN_DATA_FLOAT
  cudnnMathType_t math_type;       // FMA (strict fp32), DEFAULT (TF32 allowed), TENSOR_OP (16-bit)
  int input_size;
  int hidden_size;
  int proj_size;  // == hidden_size when there is no projection (cuDNN's rule)
  int num_layers;
  std::uint32_t aux_flags;  // CUDNN_RNN_PADDED_IO_ENABLED
};
cudnnDataType_t to_cudnn_data_type(DataType t);
RnnDescParams rnn_desc_params(const ModelDesc& desc, const BackendOptions& options, CudnnAlgo algo);

// ---- weights ---------------------------------------------------------------------------------------
// cuDNN addresses the weight space per pseudo-layer (layer·D + direction slot, the canonical order)
// and linear-layer ID: 0–3 the input-side matrices of gates i f g o, 4–7 the recurrent-side ones,
// 8 the projection. Matrices are row-major (rows, cols); biases are `rows` long.
int num_pseudo_layers(const ModelDesc& desc);  // L·D
int num_lin_layers(const ModelDesc& desc);     // 8, or 9 with projection
struct LinLayerShape {
  int rows, cols;
  bool has_bias;
};
LinLayerShape lin_layer_shape(const ModelDesc& desc, int pseudo_layer, int lin_id);

// Where the canonical weights of one linear layer are: `matrix` (rows × cols, row-major) is a
// block of rows of w_ih / w_hh (gate g = lin_id mod 4 owns rows [g·H, (g+1)·H)) or all of w_hr;
// `bias` is the matching block of b_ih / b_hh, or null for the projection.
struct CanonicalBlock {
  const float* matrix;
  const float* bias;
};
CanonicalBlock canonical_block(const ModelDesc& desc, const Weights& weights, int pseudo_layer, int lin_id);

// What cudnnGetRNNWeightParams reported for one linear layer: byte offsets into the weight space
// (−1 where cuDNN gave a null address) and the tensor dims of the matrix and bias (cuDNN reports
// 3-D {1, rows, cols} and {1, rows, 1}).
struct WeightPlacement {
  int pseudo_layer, lin_id;
  std::ptrdiff_t matrix_offset;
  std::vector<int> matrix_dims;
  std::ptrdiff_t bias_offset;
  std::vector<int> bias_dims;
};
bool operator==(const WeightPlacement& a, const WeightPlacement& b);
inline bool operator!=(const WeightPlacement& a, const WeightPlacement& b) { return !(a == b); }

// Fills `image` (the whole weight space, `image.size()` bytes, zeroed first) from the canonical
// weights, converted to `type`, at the placements cuDNN reported. Checks that there is exactly
// one placement per (pseudo-layer, linLayerID), that every shape matches lin_layer_shape and that
// every block lies inside the space: Error(kInternal) otherwise (cuDNN disagreeing with the plan).
void pack_weight_image(const ModelDesc& desc, const Weights& weights, DataType type,
                       const std::vector<WeightPlacement>& placements, std::vector<unsigned char>& image);

// ---- one forward call ------------------------------------------------------------------------------
// The 3-D tensor descriptor of h or c: dims {L·D, N, width}, fully packed strides.
struct StateTensorDims {
  int dims[3];
  int strides[3];
};
StateTensorDims state_dims(const ModelDesc& desc, int batch, int width);

struct DataPlan {
  int max_seq_len = 0, batch = 0;
  cudnnRNNDataLayout_t layout = CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED;
  cudnnDataType_t data_type = CUDNN_DATA_FLOAT;
  int x_vector_size = 0;  // I
  int y_vector_size = 0;  // D·H_out
  StateTensorDims h_dims{}, c_dims{};
  // Host lengths as cuDNN must see them: the request's, every 0 raised to 1; T per row without
  // lengths. Resized in place (no allocation once its capacity covers the batch).
  std::vector<int> cudnn_lengths;
  // Each row's true length: the request's lengths, or the valid steps of its mask, or T. Reused.
  std::vector<std::int32_t> true_lengths;
  bool uniform_lengths = true;   // every row has the same length (some algorithms require it)
  bool has_zero_length = false;  // some row has length 0 (run as 1, then masked and restored)
  bool has_padding = false;      // some row is shorter than T
  bool reversed_run = false;     // reverse model: x reversed per row into scratch, y gathered back
  bool left_padded = false;      // a left-padded mask: x shifted per row into scratch, y gathered back
  bool y_to_scratch = false;     // cuDNN's y goes to the workspace (y not asked, or gathered back)
  bool finish_y = false;         // run the y transform kernel (scratch → y, or in place on y)
  bool restore_states = false;   // zero-length rows get h_n/c_n = h0/c0 (or zeros)
};
// Plans one request (validated by Lstm already). `plan` is reused between calls. A mask that is
// neither right- nor left-padded is Error(kUnsupported) naming the row.
void plan_forward(const ModelDesc& desc, const BackendOptions& options, const ForwardRequest& req, DataPlan& plan);
// Throws Error(kUnsupported) for a mask cuDNN cannot serve (neither right- nor left-padded).
void check_mask_supported(const ForwardRequest& req);

// The workspace of one forward, carved from one caller or owned buffer; each part 256-byte aligned.
struct WorkspaceLayout {
  std::size_t lengths_offset = 0;    // 2N int32: true lengths, then cuDNN's (zeros raised to 1)
  std::size_t y_scratch_offset = 0;  // T·N·D·H_out elements
  std::size_t x_scratch_offset = 0;  // T·N·I elements: x reversed (reverse models) or shifted (left padding)
  std::size_t cudnn_offset = 0;      // cuDNN's work space
  std::size_t cudnn_bytes = 0;
  std::size_t total = 0;
};
constexpr std::size_t kWorkspaceAlignment = 256;
WorkspaceLayout workspace_layout(const ModelDesc& desc, DataType type, int seq_len, int batch,
                                 std::size_t cudnn_work_bytes);

}  // namespace lstmrt::cudnn
