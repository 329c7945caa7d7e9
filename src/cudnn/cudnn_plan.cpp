// Host planning for the cudnn backend (see cudnn_plan.hpp). No cuDNN calls here.
#include "cudnn/cudnn_plan.hpp"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include "common/check.hpp"
#include "request_mask.hpp"

namespace lstmrt::cudnn {

// ---- refusals ------------------------------------------------------------------------------------

std::vector<std::string> unsupported_model_features(const ModelDesc& desc) {
  std::vector<std::string> features;
  if (desc.peepholes) features.push_back("peepholes");
  if (desc.coupled_input_forget) features.push_back("coupled input-forget gate");
  // cuDNN's own clip is cell clipping, a different operation: never substituted for ONNX clip.
  if (desc.clip != 0.0f) features.push_back(fmt::format("ONNX clip {}", desc.clip));
  for (int d = 0; d < desc.num_directions(); ++d) {
    const CellActivations& a = desc.activations[d];
    if (!a.is_default())
      features.push_back(fmt::format("activations ({}, {}, {}) in direction {} (cuDNN has sigmoid, tanh, tanh only)",
                                     to_string(a.gate), to_string(a.cell), to_string(a.hidden), d));
  }
  return features;
}

void check_model_supported(const ModelDesc& desc) {
  const std::vector<std::string> features = unsupported_model_features(desc);
  if (features.empty()) return;
  std::string list;
  for (const std::string& f : features) list += (list.empty() ? "" : ", ") + f;
  detail::unsupported("backend cudnn cannot serve {}: cuDNN's LSTM has none of these; use backend fused or reference",
                      list);
}

// ---- algorithms --------------------------------------------------------------------------------------

cudnnRNNAlgo_t to_cudnn_algo(CudnnAlgo algo) {
  switch (algo) {
    case CudnnAlgo::kStandard: return CUDNN_RNN_ALGO_STANDARD;
    case CudnnAlgo::kPersistStatic: return CUDNN_RNN_ALGO_PERSIST_STATIC;
    case CudnnAlgo::kPersistStaticSmallH: return CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H;
    case CudnnAlgo::kPersistDynamic: return CUDNN_RNN_ALGO_PERSIST_DYNAMIC;
    case CudnnAlgo::kAuto: break;
  }
  detail::invalid(
      "cudnn algorithm {} is not a cuDNN algorithm: expected standard, persist_static, "
      "persist_static_small_h or persist_dynamic",
      to_string(algo));
}

std::vector<CudnnAlgo> candidate_algos(const ModelDesc& desc, CudnnAlgo requested) {
  if (requested != CudnnAlgo::kAuto) {
    to_cudnn_algo(requested);  // rejects values outside the enum
    return {requested};
  }
  if (desc.proj_size > 0) return {CudnnAlgo::kStandard};  // cuDNN: projection needs STANDARD
  return {CudnnAlgo::kStandard, CudnnAlgo::kPersistStatic, CudnnAlgo::kPersistStaticSmallH, CudnnAlgo::kPersistDynamic};
}

bool algo_accepts_unequal_lengths(CudnnAlgo algo) { return algo != CudnnAlgo::kPersistStaticSmallH; }

CudnnAlgo choose_algo(const std::vector<CudnnAlgo>& ranked, bool uniform_lengths) {
  for (CudnnAlgo a : ranked)
    if (uniform_lengths || algo_accepts_unequal_lengths(a)) return a;
  return CudnnAlgo::kStandard;
}

bool is_refusal_status(cudnnStatus_t status) {
  const int category = CUDNN_STATUS_CATEGORY(status);
  return category == CUDNN_STATUS_NOT_SUPPORTED || category == CUDNN_STATUS_BAD_PARAM;
}

StatusAction status_action(cudnnStatus_t status, bool droppable) {
  if (droppable) return StatusAction::kDrop;
  return is_refusal_status(status) ? StatusAction::kRefuse : StatusAction::kFail;
}

std::string describe_shape(int seq_len, int batch, bool uniform_lengths, TensorLayout layout) {
  return fmt::format("seq_len {} batch {} ({} lengths, {})", seq_len, batch, uniform_lengths ? "equal" : "unequal",
                     layout == TensorLayout::kBatchMajor ? "batch-major" : "time-major");
}

std::string bf16_refusal(std::size_t cudnn_version, int compute_major) {
  auto text = [](std::size_t v) { return fmt::format("{}.{}.{}", v / 10000, v / 100 % 100, v % 100); };
  if (cudnn_version < kCudnnMinBFloat16Version)
    return fmt::format(
        "cuDNN {} has no bfloat16 RNN: expected cuDNN {} or newer (or float16/float32 data, or "
        "backend fused)",
        text(cudnn_version), text(kCudnnMinBFloat16Version));
  if (compute_major < kCudnnMinBFloat16ComputeMajor)
    return fmt::format("compute capability {}.x has no bfloat16 tensor cores for cuDNN's RNN: expected {}.0 or newer",
                       compute_major, kCudnnMinBFloat16ComputeMajor);
  return {};
}

// ---- RNN descriptor ------------------------------------------------------------------------------------

cudnnDataType_t to_cudnn_data_type(DataType t) {
  switch (t) {
    case DataType::kFloat32: return CUDNN_DATA_FLOAT;
    case DataType::kFloat16: return CUDNN_DATA_HALF;
    case DataType::kBFloat16: return CUDNN_DATA_BFLOAT16;
    default: break;  // not a storage type
  }
  detail::invalid("data type {} is not float32, float16 or bfloat16", static_cast<int>(t));
}

RnnDescParams rnn_desc_params(const ModelDesc& desc, const BackendOptions& options, CudnnAlgo algo) {
  RnnDescParams p{};
  p.algo = to_cudnn_algo(algo);
  p.cell_mode = CUDNN_LSTM;
  p.bias_mode = CUDNN_RNN_DOUBLE_BIAS;
  p.dir_mode = desc.direction == Direction::kBidirectional ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL;
  p.input_mode = CUDNN_LINEAR_INPUT;
  p.data_type = to_cudnn_data_type(options.data_type);
  // Accumulation is float32 for every storage type. For float32 data the math type is the user's
  // choice: FMA only (strict) or tensor cores with TF32 allowed (DEFAULT_MATH, as PyTorch with
  // allow_tf32). 16-bit data uses tensor cores.
  p.math_prec = CUDNN_DATA_FLOAT;
  if (options.data_type == DataType::kFloat32) {
    if (options.math != MathMode::kStrict && options.math != MathMode::kTF32)
      detail::invalid("math mode {} is not strict or tf32", static_cast<int>(options.math));
    p.math_type = options.math == MathMode::kStrict ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
  } else {
    p.math_type = CUDNN_TENSOR_OP_MATH;
  }
  p.input_size = desc.input_size;
  p.hidden_size = desc.hidden_size;
  p.proj_size = desc.output_size();
  p.num_layers = desc.num_layers;
  p.aux_flags = CUDNN_RNN_PADDED_IO_ENABLED;
  return p;
}

// ---- weights ---------------------------------------------------------------------------------------------

int num_pseudo_layers(const ModelDesc& desc) { return desc.num_layers * desc.num_directions(); }
int num_lin_layers(const ModelDesc& desc) { return desc.proj_size > 0 ? 9 : 8; }

namespace {
void check_lin_layer(const ModelDesc& desc, int pseudo_layer, int lin_id) {
  if (pseudo_layer < 0 || pseudo_layer >= num_pseudo_layers(desc))
    detail::invalid("pseudo-layer {} out of range: expected 0..{}", pseudo_layer, num_pseudo_layers(desc) - 1);
  if (lin_id < 0 || lin_id >= num_lin_layers(desc))
    detail::invalid("linLayerID {} out of range: expected 0..{}", lin_id, num_lin_layers(desc) - 1);
}
}  // namespace

LinLayerShape lin_layer_shape(const ModelDesc& desc, int pseudo_layer, int lin_id) {
  check_lin_layer(desc, pseudo_layer, lin_id);
  const int layer = pseudo_layer / desc.num_directions();
  if (lin_id < 4) return {desc.hidden_size, desc.layer_input_size(layer), true};
  if (lin_id < 8) return {desc.hidden_size, desc.output_size(), true};
  return {desc.proj_size, desc.hidden_size, false};
}

CanonicalBlock canonical_block(const ModelDesc& desc, const Weights& weights, int pseudo_layer, int lin_id) {
  const LinLayerShape shape = lin_layer_shape(desc, pseudo_layer, lin_id);
  const LayerWeights& w = weights.layers.at(pseudo_layer);
  if (lin_id == 8) return {w.w_hr.data(), nullptr};
  // Canonical gate blocks are i f g o along the 4H rows, the same order as cuDNN's IDs mod 4.
  const std::size_t gate = static_cast<std::size_t>(lin_id % 4);
  const std::size_t rows = static_cast<std::size_t>(shape.rows);
  const std::vector<float>& matrix = lin_id < 4 ? w.w_ih : w.w_hh;
  const std::vector<float>& bias = lin_id < 4 ? w.b_ih : w.b_hh;
  return {matrix.data() + gate * rows * shape.cols, bias.data() + gate * rows};
}

bool operator==(const WeightPlacement& a, const WeightPlacement& b) {
  return a.pseudo_layer == b.pseudo_layer && a.lin_id == b.lin_id && a.matrix_offset == b.matrix_offset &&
         a.matrix_dims == b.matrix_dims && a.bias_offset == b.bias_offset && a.bias_dims == b.bias_dims;
}

namespace {

std::string dims_string(const std::vector<int>& dims) {
  std::string s = "{";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "}";
}

// cuDNN reports {1, rows, cols}; accept any leading 1s, nothing else.
bool dims_match(const std::vector<int>& dims, int rows, int cols) {
  if (dims.size() < 2) return false;
  for (std::size_t i = 0; i + 2 < dims.size(); ++i)
    if (dims[i] != 1) return false;
  return dims[dims.size() - 2] == rows && dims[dims.size() - 1] == cols;
}

void copy_block(const float* src, std::size_t count, DataType type, std::ptrdiff_t offset,
                std::vector<unsigned char>& image, const WeightPlacement& p, const char* what) {
  const std::size_t bytes = count * detail::element_bytes(type);
  if (offset < 0 || static_cast<std::size_t>(offset) + bytes > image.size() ||
      offset % detail::element_bytes(type) != 0)
    detail::fail(ErrorCode::kInternal,
                 "cudnn weight space: pseudo-layer {} linLayerID {} {} at byte {} ({} bytes) does not fit a "
                 "{}-byte space aligned to {}",
                 p.pseudo_layer, p.lin_id, what, offset, bytes, image.size(), detail::element_bytes(type));
  for (std::size_t k = 0; k < count; ++k)
    detail::store_element(src[k], type, image.data() + offset + k * detail::element_bytes(type));
}

}  // namespace

void pack_weight_image(const ModelDesc& desc, const Weights& weights, DataType type,
                       const std::vector<WeightPlacement>& placements, std::vector<unsigned char>& image) {
  std::fill(image.begin(), image.end(), static_cast<unsigned char>(0));
  std::set<std::pair<int, int>> seen;
  for (const WeightPlacement& p : placements) {
    check_lin_layer(desc, p.pseudo_layer, p.lin_id);
    if (!seen.insert({p.pseudo_layer, p.lin_id}).second)
      detail::fail(ErrorCode::kInternal, "cudnn weight space: pseudo-layer {} linLayerID {} placed twice",
                   p.pseudo_layer, p.lin_id);
    const LinLayerShape shape = lin_layer_shape(desc, p.pseudo_layer, p.lin_id);
    const CanonicalBlock src = canonical_block(desc, weights, p.pseudo_layer, p.lin_id);
    if (p.matrix_offset < 0)
      detail::fail(ErrorCode::kInternal,
                   "cudnn weight space: pseudo-layer {} linLayerID {} has no matrix, expected ({}, {})", p.pseudo_layer,
                   p.lin_id, shape.rows, shape.cols);
    if (!dims_match(p.matrix_dims, shape.rows, shape.cols))
      detail::fail(ErrorCode::kInternal,
                   "cudnn weight space: pseudo-layer {} linLayerID {} matrix dims {}, expected {{1, {}, {}}}",
                   p.pseudo_layer, p.lin_id, dims_string(p.matrix_dims), shape.rows, shape.cols);
    copy_block(src.matrix, static_cast<std::size_t>(shape.rows) * shape.cols, type, p.matrix_offset, image, p,
               "matrix");
    if (shape.has_bias != (p.bias_offset >= 0))
      detail::fail(ErrorCode::kInternal, "cudnn weight space: pseudo-layer {} linLayerID {} {} a bias, expected {}",
                   p.pseudo_layer, p.lin_id, p.bias_offset >= 0 ? "has" : "lacks", shape.has_bias ? "one" : "none");
    if (!shape.has_bias) continue;
    if (!dims_match(p.bias_dims, shape.rows, 1))
      detail::fail(ErrorCode::kInternal,
                   "cudnn weight space: pseudo-layer {} linLayerID {} bias dims {}, expected {{1, {}, 1}}",
                   p.pseudo_layer, p.lin_id, dims_string(p.bias_dims), shape.rows);
    copy_block(src.bias, static_cast<std::size_t>(shape.rows), type, p.bias_offset, image, p, "bias");
  }
  const std::size_t expected = static_cast<std::size_t>(num_pseudo_layers(desc)) * num_lin_layers(desc);
  if (seen.size() != expected)
    detail::fail(ErrorCode::kInternal, "cudnn weight space: {} linear layers placed, expected {} (L·D={} × {})",
                 seen.size(), expected, num_pseudo_layers(desc), num_lin_layers(desc));
}

// ---- one forward call ------------------------------------------------------------------------------------

StateTensorDims state_dims(const ModelDesc& desc, int batch, int width) {
  StateTensorDims s{};
  s.dims[0] = num_pseudo_layers(desc);
  s.dims[1] = batch;
  s.dims[2] = width;
  s.strides[0] = batch * width;
  s.strides[1] = width;
  s.strides[2] = 1;
  return s;
}

void check_mask_supported(const ForwardRequest& req) {
  if (!req.mask) return;
  const MaskAnalysis a = analyse_mask(req.mask, req.seq_len, req.batch, nullptr);
  if (a.pattern == MaskPattern::kGeneral)
    detail::unsupported(
        "backend cudnn cannot serve this per-step mask: {}: cuDNN runs right-padded rows (and "
        "lstmrt shifts left-padded ones); the fused and reference backends take any mask",
        describe_general_mask(a));
}

void plan_forward(const ModelDesc& desc, const BackendOptions& options, const ForwardRequest& req, DataPlan& plan) {
  const int T = req.seq_len, N = req.batch;
  plan.max_seq_len = T;
  plan.batch = N;
  plan.layout = req.layout == TensorLayout::kBatchMajor ? CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED
                                                        : CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED;
  plan.data_type = to_cudnn_data_type(options.data_type);
  plan.x_vector_size = desc.input_size;
  plan.y_vector_size = desc.num_directions() * desc.output_size();
  plan.h_dims = state_dims(desc, N, desc.output_size());
  plan.c_dims = state_dims(desc, N, desc.hidden_size);

  plan.cudnn_lengths.resize(static_cast<std::size_t>(N));
  plan.true_lengths.resize(static_cast<std::size_t>(N));
  plan.uniform_lengths = true;
  plan.has_zero_length = false;
  plan.has_padding = false;
  plan.left_padded = false;
  if (req.mask) {
    const MaskAnalysis a = analyse_mask(req.mask, T, N, plan.true_lengths.data());
    if (a.pattern == MaskPattern::kGeneral) check_mask_supported(req);
    plan.left_padded = a.pattern == MaskPattern::kSuffix;
  } else {
    for (int b = 0; b < N; ++b) plan.true_lengths[b] = req.lengths ? req.lengths[b] : T;
  }
  for (int b = 0; b < N; ++b) {
    const int len = plan.true_lengths[b];
    plan.cudnn_lengths[b] = len == 0 ? 1 : len;
    plan.has_zero_length = plan.has_zero_length || len == 0;
    plan.has_padding = plan.has_padding || len < T;
    // Uniformity as cuDNN sees it (zeros raised to 1).
    plan.uniform_lengths = plan.uniform_lengths && plan.cudnn_lengths[b] == plan.cudnn_lengths[0];
  }

  plan.reversed_run = desc.direction == Direction::kReverse;
  const bool want_y = req.y != nullptr;
  // cuDNN writes paddingFill (0) at padded positions itself, so zero padding needs no pass of ours
  // (checked on a GPU by CudnnGpuChecks.PaddedOutputsAreZero).
  const bool carry = req.padding == PaddingMode::kCarryLast && plan.has_padding;
  plan.finish_y = want_y && (plan.reversed_run || plan.left_padded || plan.has_zero_length || carry ||
                             req.reverse_order == ReverseOutputOrder::kProcessing);
  plan.y_to_scratch = !want_y || plan.reversed_run || plan.left_padded;
  plan.restore_states = plan.has_zero_length && (req.h_n != nullptr || req.c_n != nullptr);
}

namespace {
std::size_t align_up(std::size_t v) {
  return (v + kWorkspaceAlignment - 1) / kWorkspaceAlignment * kWorkspaceAlignment;
}
}  // namespace

WorkspaceLayout workspace_layout(const ModelDesc& desc, DataType type, int seq_len, int batch,
                                 std::size_t cudnn_work_bytes) {
  if (seq_len < 1 || batch < 1)
    detail::invalid("workspace for seq_len {} batch {}: expected both >= 1", seq_len, batch);
  const std::size_t steps_rows = static_cast<std::size_t>(seq_len) * batch;
  const std::size_t e = detail::element_bytes(type);
  WorkspaceLayout w;
  std::size_t at = 0;
  w.lengths_offset = at;
  at = align_up(at + 2 * sizeof(std::int32_t) * batch);
  w.y_scratch_offset = at;
  at = align_up(at + steps_rows * desc.num_directions() * desc.output_size() * e);
  w.x_scratch_offset = at;
  at = align_up(at + steps_rows * desc.input_size * e);
  w.cudnn_offset = at;
  w.cudnn_bytes = cudnn_work_bytes;
  w.total = align_up(at + cudnn_work_bytes);
  return w;
}

}  // namespace lstmrt::cudnn
