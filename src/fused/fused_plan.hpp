// The fused backend's plan: everything about one forward pass that is not arithmetic on the device,
// computed on the host from the model and the request's shape, and CPU-tested
// (tests/cpu/test_fused_plan*.cpp): which GEMMs run with which sizes, leading dimensions and offsets,
// which time step every row is at, where outputs go, the order of the graph's nodes, the layer
// wavefront and the workspace layout.
//
// Execution model (per layer l, both directions together):
//   init      h_state, c_state (and m_state) from h0/c0 or zeros                 (one kernel)
//   gates_h0  W_hh·h0 once (masked requests of projected models with h0: fused_step_math.cuh)
//   for each time chunk c (chunk_steps processing steps):
//     input GEMM(s)   gates_x = x_chunk · W_ih^T                                  (tensor cores)
//     for each processing step s of the chunk:
//       recurrent GEMM  gates_h[d] = h_state[d] · W_hh[d]^T, batched over d       (skipped at s = 0
//                                                                                  without h0;
//                       one-direction layers: gates_x[t] += h_state · W_hh^T in place instead)
//       gate step       ONE kernel: biases, activations, c/h update, masking, y, h_n/c_n
//       projection GEMM h_state[d] = m_state[d] · W_hr[d]^T (P > 0), batched over d
//     chunk emit (P > 0): the gate-step kernel in emit-only mode writes the chunk's last projected h
// With a projection the gate step of step s also writes step s−1's projected h (then in h_state)
// to y and h_n (except at a chunk's first step: the chunk emit did it), so each step stays one
// kernel and each chunk's output is complete when it ends.
//
// Persistent layers (FusedKernel kPersistent / kCluster): each chunk is
//     input GEMM(s), then ONE kPersistent launch running all the chunk's steps (both directions)
// with W_hh on chip (kernels/persistent_lstm.hpp); it reads h_state/c_state at its start and leaves
// them for the next chunk's launch. A kClearPersistent op on the caller's stream (before kFork)
// zeroes the workspace's persistent region (abort word, grid exchange buffers) once per forward,
// so the step tags (chunk c's tag_base = c·(chunk_steps + 1)) grow within a forward and never
// repeat. A persistent launch needs the whole GPU, so plans with a persistent layer run the
// layers one after the other (no wavefront) and chunk only by the gates_x budget.
//
// Time: processing step s of a row with length len is at input time t = s (forward) or
// t = len−1−s (reverse) while s < len; at s >= len the row is frozen (state untouched) and the step
// writes y's padded position t = s instead. With a per-step mask every row is at t = s (forward)
// or T−1−s (reverse) and a masked step freezes the row for that step; masked plans are stepwise
// (the persistent kernels take no mask).
//
// GEMMs are row-major: out[b] (rows × cols) = act[b] (rows × depth) · weight[b]^T (cols × depth),
// batch b in [0, batch) with per-operand batch strides (elements). cuBLASLt sees it column-major as
// out^T = weight · act^T: transa = T, transb = N, m = cols, n = rows, k = depth.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/elements.hpp"
#include "fused/fused_key.hpp"
#include "fused/persistent_plan.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt::fused {

// Byte budget for one layer's gates_x chunk: the input GEMM's output should stay in the 50 MB L2
// until the steps consume it.
constexpr std::size_t kGatesChunkBudgetBytes = std::size_t{16} << 20;
// Plans with a persistent layer: every launch (one per chunk) loads W_hh on chip again, so chunks
// are longer; the kernel reads each step's gates once, from wherever they are.
constexpr std::size_t kPersistentGatesChunkBudgetBytes = std::size_t{64} << 20;
// A persistent layer stages every row's h in one block's shared memory: N·H_out·4 bytes must fit
// the device's opt-in shared memory per block (limits.smem_per_block), or no persistent variant can
// serve the shape (then workspace_bytes need not cover the persistent chunking).
bool persistent_possible(const ModelDesc& desc, DataType type, int batch, const DeviceLimits& limits);
// Stacked one-direction models: the wavefront unit. Layer l+1 runs chunk c while layer l runs chunk
// c+1, so a smaller chunk overlaps more but makes smaller input GEMMs.
constexpr int kWavefrontChunkSteps = 4;
// cuBLASLt workspace per layer stream (layers run GEMMs concurrently, so each has its own).
constexpr std::size_t kCublasWorkspaceBytes = std::size_t{4} << 20;
constexpr std::size_t kWorkspaceAlignment = 256;

// A layer's kernels are named by the API's FusedKernel (lstmrt/lstm.hpp), never kAuto once chosen:
// kStepwise, kPersistent (the grid variant) or kCluster.
inline bool is_persistent(FusedKernel k) { return k == FusedKernel::kPersistent || k == FusedKernel::kCluster; }

// The kernels chosen for one layer (fused_choose.hpp) and why.
struct LayerChoice {
  FusedKernel kernel = FusedKernel::kStepwise;
  std::string note;           // why this kernel (a persistent request's fallback reason, "auto", ...)
  PersistentPlan persistent;  // the chosen variant's fitting plan (persistent kernels only)
};

// Bytes at the start of the workspace's persistent region for the persistent kernels' abort word.
constexpr std::size_t kPersistentStatusBytes = 256;

// Buffers a GEMM or kernel touches. Caller buffers: kX (layer 0's input). Workspace buffers are
// per layer. Weight buffers are per layer, packed at create (fused_weights.hpp).
enum class BufferKind {
  kX,         // the request's x, (T, N, I) or (N, T, I), data type
  kLayerOut,  // (T, N, D·H_out) data type, time-major: layer l's output when l < L−1
  kGatesX,    // (chunk_steps, N, D·4H) float32: input projections of one time chunk
  kGatesH,    // (D, N, 4H) float32: recurrent GEMM output of the current step
  kGatesH0,   // (D, N, 4H) float32: W_hh·h0 (masked, projected, with h0; P > 0 layouts only)
  kHState,    // (D, N, H_out) data type: h, the next step's recurrent GEMM input
  kMState,    // (D, N, H) data type: o⊙act(c) before projection (P > 0 only)
  kCState,    // (D, N, H) float32: the cell state
  kWeightIh,  // (D·4H, I_l) data type
  kWeightHh,  // (D, 4H, H_out) data type
  kWeightHr,  // (D, P, H) data type
};
const char* to_string(BufferKind kind);

struct MatrixRef {
  BufferKind buffer = BufferKind::kX;
  int layer = 0;
  std::int64_t offset = 0;        // elements from the buffer's start
  std::int64_t ld = 0;            // elements between consecutive rows
  std::int64_t batch_stride = 0;  // elements between batch entries (0 when batch == 1)
};

enum class GemmRole { kInput, kRecurrent, kProjection };
const char* to_string(GemmRole role);

struct GemmOp {
  GemmRole role = GemmRole::kInput;
  int rows = 0, cols = 0, depth = 0, batch = 1;
  MatrixRef act, weight, out;
  bool accumulate = false;  // out += (beta = 1) instead of out =
};

enum class OpKind {
  kUploadLengths,    // the request's host lengths into the workspace (caller's stream, before kFork)
  kUploadMask,       // the request's host mask, packed (src/request_mask.hpp), into the workspace (likewise)
  kFork,             // every layer stream > 0 waits for the caller's stream (start of the call)
  kInitState,        // layer's h/c/m state from h0/c0 or zeros
  kGemm,             // see GemmOp
  kGateStep,         // the fused per-step kernel (compute = false: the final projected emit only)
  kRecordEvent,      // layer's event recorded on its stream (after chunk `chunk`)
  kWaitEvent,        // layer waits for the event of layer `wait_layer` recorded after chunk `chunk`
  kJoin,             // the caller's stream waits for every layer stream (end of the call)
  kClearPersistent,  // zero the workspace's persistent region (caller's stream, before kFork)
  kPersistent,       // one persistent launch: steps [step, step + step_count) of the layer, chunk `chunk`
};
const char* to_string(OpKind kind);

struct Op {
  OpKind kind = OpKind::kFork;
  int layer = 0;  // also the stream: layer l runs on stream l (stream 0 is the caller's)
  int chunk = 0;
  int step = 0;        // processing step s (kGateStep; the chunk's end for the emit-only launch;
                       // kPersistent: the launch's first step)
  int step_count = 0;  // kPersistent: processing steps of the launch
  GemmOp gemm;         // kGemm
  // kGateStep, kPersistent: time of gates_x's first row block for each direction slot in this chunk.
  std::array<int, 2> gates_time_base{0, 0};
  // kGateStep, kPersistent: elements between gates_x's time blocks and rows: (N·D·4H, D·4H) time-major, or
  // (D·4H, T·D·4H) when a batch-major x was projected in one GEMM (rows b·T + t).
  std::int64_t gates_time_stride = 0, gates_row_stride = 0;
  bool compute = true;  // kGateStep: false = emit-only (projected, end of a chunk)
  // kGateStep: add gates_h. False when the recurrent GEMM was skipped (zero h at s = 0) or
  // accumulated straight into gates_x (recurrent_into_gates).
  bool has_recurrent = true;
  bool emit_previous = false;  // kGateStep: write step s−1's projected h (P > 0, not a chunk's first step)
  int wait_layer = 0;          // kWaitEvent
};

struct Region {
  std::size_t offset = 0;  // bytes from the workspace start, kWorkspaceAlignment-aligned
  std::size_t bytes = 0;
};

struct LayerRegions {
  Region cublas, gates_x, gates_h, gates_h0, h_state, c_state, m_state, layer_out;
  // Inside WorkspaceLayout::persistent: the grid variant's exchanges of this layer, direction d's
  // at + d·(one direction's bytes) (persistent_plan.hpp ExchangeLayout, per-value tags, N rows).
  Region h_exchange, m_exchange;
};

struct WorkspaceLayout {
  Region lengths;  // int32 (N): the request's lengths on the device
  Region mask;     // int32 packed_mask_words(T, N): the request's mask on the device
  // Zeroed by kClearPersistent: kPersistentStatusBytes for the abort word (int32 at its start),
  // then every layer's h_exchange and m_exchange. Empty for float16 (no persistent kernels).
  Region persistent;
  std::vector<LayerRegions> layers;
  std::size_t total_bytes = 0;
};

struct FusedPlan {
  PlanKey key;
  int layers = 0, directions = 0, hidden = 0, out_size = 0, proj = 0;
  int chunk_steps = 0;  // processing steps per time chunk (T when unchunked)
  int chunk_count = 0;
  bool wavefront = false;            // layer l+1 chunk c overlaps layer l chunk c+1
  std::vector<LayerChoice> choices;  // per layer
  bool any_persistent() const;
  std::vector<Op> ops;  // issue order (each op runs on stream op.layer)
  WorkspaceLayout workspace;
};

// One-direction layers whose rows all read the same input time at a step (not a reverse layer
// with per-row lengths) accumulate the recurrent GEMM into that time's gates_x block (beta = 1):
// the gate kernel then reads one gate array instead of two — except where a row's first valid
// step takes its recurrent term from gates_h0 instead (uses_gates_h0).
bool recurrent_into_gates(const ModelDesc& desc, const PlanKey& key);
// Masked requests of projected models with an initial state compute gates_h0 = W_hh·h0 once.
bool uses_gates_h0(const ModelDesc& desc, const PlanKey& key);

// Processing steps per time chunk for this model and request shape. Reverse directions with
// per-row lengths start each row at its own end, so their input times do not form one contiguous
// range per step range: such plans are unchunked (chunk_steps = T). `layers_overlap` = false (plans
// with a persistent layer): no wavefront, so only the (persistent) gates_x budget bounds the chunk.
int plan_chunk_steps(const ModelDesc& desc, int seq_len, int batch, bool has_lengths, bool layers_overlap = true);

// The input times [first, last) of direction slot `d`'s chunk `c` (the rows of gates_x it fills).
struct TimeRange {
  int first = 0, last = 0;
};
TimeRange chunk_time_range(const ModelDesc& desc, int d, int chunk, int chunk_steps, int seq_len);
// Index of the chunk in which direction slot d produces its output at input time t.
int chunk_of_time(const ModelDesc& desc, int d, int t, int chunk_steps, int seq_len);

// Where a layer's gate step writes its per-step output h: layer_out for l < L−1 (time-major), the
// caller's y for the top layer (request layout; time flipped for Keras go_backwards). Element
// (t, b, d·H_out + j) is at t'·time + b·row + d·H_out + j with t' = flip ? T−1−t : t.
struct SequenceStrides {
  std::int64_t time = 0, row = 0;
  bool flip = false;
};
SequenceStrides output_strides(const ModelDesc& desc, const PlanKey& key, int layer);

// One direction's grid-variant exchange bytes of a layer for `batch` rows (h, and m with a
// projection; 0 for float16): per-value tags, N rows (kernels/persistent_lstm.hpp
// persistent_exchange_bytes), the same on every device.
struct ExchangeBytes {
  std::size_t h = 0, m = 0;
};
ExchangeBytes grid_exchange_bytes(const ModelDesc& desc, DataType type, int batch);

WorkspaceLayout plan_workspace(const ModelDesc& desc, DataType type, int seq_len, int batch, int chunk_steps);
// Bytes forward needs for any request of this shape on a device with `limits` (the largest over
// the keys' chunkings and kernel choices: the persistent region is always part of the layout).
std::size_t workspace_bytes(const ModelDesc& desc, DataType type, int seq_len, int batch, const DeviceLimits& limits);

// The plan for `key` with one choice per layer (fused_choose.hpp; empty: every layer stepwise),
// for a device with `limits`. chunk_steps > 0 overrides the chunk length (tests), still unchunked
// where chunking cannot serve. Throws kInvalidArgument for a wrong count, a persistent choice with
// float16, a masked request, an activation the persistent kernels do not evaluate, or a persistent
// plan that does not fit or was made for another shape.
FusedPlan make_plan(const ModelDesc& desc, DataType type, const PlanKey& key, const std::vector<LayerChoice>& choices,
                    const DeviceLimits& limits, int chunk_steps = 0);

}  // namespace lstmrt::fused
