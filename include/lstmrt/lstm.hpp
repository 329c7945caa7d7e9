// lstmrt — running an LSTM: backends, the forward request, and the Lstm object.
//
// Conventions (see model.hpp for the letters):
//   - Tensors are dense and row-major. x is (T, N, I) time-major or (N, T, I) batch-major; y is
//     (T, N, D·H_out) or (N, T, D·H_out) in the same layout as x, channels [forward | reverse].
//   - h0, h_n are (L·D, N, H_out); c0, c_n are (L·D, N, H); first index layer·D + direction slot.
//   - Data pointers live where the backend computes: host memory for `reference`, device memory
//     for `cudnn` and `fused` (Lstm::memory_space() says which). Lstm::forward_host() takes host
//     pointers for any backend. `lengths` and `mask` are always host arrays.
//   - Inputs may not alias outputs. Outputs that are null are not requested and never written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lstmrt/data_type.hpp"
#include "lstmrt/model.hpp"
#include "lstmrt/weights.hpp"

// The one CUDA type in lstmrt's public API (declared exactly as cuda_runtime_api.h does).
typedef struct CUstream_st* cudaStream_t;

namespace lstmrt {

enum class BackendKind {
  kReference,  // CPU, double accumulation, every feature: the oracle
  kCudnn,      // cudnnRNNForward (cuDNN 9)
  kFused,      // lstmrt's own CUDA kernels
  kAuto,       // the fastest backend that can serve the model on this machine
};
enum class MathMode { kStrict, kTF32 };  // fp32 data: exact FMA math, or TF32 tensor cores
enum class CudnnAlgo { kAuto, kStandard, kPersistStatic, kPersistStaticSmallH, kPersistDynamic };
enum class MemorySpace { kHost, kDevice };

// Which kernels the fused backend runs for a layer (ignored by the other backends).
enum class FusedKernel {
  kAuto,        // per shape: the fastest variant measured by reserve(), else the built-in rule
  kStepwise,    // input GEMM + per-step recurrent GEMM and one fused gate kernel: serves everything
  kPersistent,  // one persistent launch per layer and time chunk, W_hh on chip, grid-wide h exchange
  kCluster,     // persistent inside thread-block clusters (DSMEM exchange): small H
};

struct BackendOptions {
  BackendKind kind = BackendKind::kAuto;
  DataType data_type = DataType::kFloat32;  // a storage type (is_storage_type): float32, float16, bfloat16
  MathMode math = MathMode::kStrict;
  CudnnAlgo cudnn_algo = CudnnAlgo::kAuto;
  // A persistent choice that cannot serve a layer (too large to keep on chip, float16, blocks not
  // co-resident) runs that layer stepwise instead; execution_plan() says what runs.
  FusedKernel fused_kernel = FusedKernel::kAuto;
  int device = 0;  // CUDA device ordinal for GPU backends
};

enum class TensorLayout { kTimeMajor, kBatchMajor };

// What padded positions of y (t >= lengths[b]) hold.
enum class PaddingMode {
  kZero,       // zeros (cuDNN, PyTorch pad_packed_sequence, ONNX Runtime)
  kCarryLast,  // Keras's generic loop: the most recent output in processing order, zeros if none
               // yet (so the forward half repeats h at the row's last valid step and the reverse
               // half, which meets the padding first, holds zeros). This is what Keras 3 computes
               // with the TensorFlow and torch backends and with unroll=True; its JAX/NumPy scan
               // instead fills padding met BEFORE the first valid step with the initial h (same
               // result when there is no initial state). Keras's Bidirectional forces zero padding
               // (kZero) on both halves when return_sequences is set.
};

// Time order of y for a Direction::kReverse model.
enum class ReverseOutputOrder {
  kOriginal,    // y[t] is the output at input step t (ONNX direction=reverse, PyTorch)
  kProcessing,  // y[k] is the k-th step processed, i.e. input step T−1−k (Keras go_backwards)
};

struct ForwardRequest {
  int seq_len = 0;  // T >= 1
  int batch = 0;    // N >= 1
  TensorLayout layout = TensorLayout::kTimeMajor;
  const void* x = nullptr;                // (T, N, I) or (N, T, I); required
  const std::int32_t* lengths = nullptr;  // HOST (N), each in [0, T]; null = every row runs T steps
  // Per-step mask, Keras's semantics: HOST (N, T) row-major bytes, whatever `layout` is: mask[b·T + t]
  // != 0 when step t of row b is valid; null = every step valid. A masked step leaves the row's h
  // and c as they are; its y position follows `padding` (zero, or the most recent output in
  // processing order). A reverse direction processes t = T−1 … 0 with the same mask, so it starts
  // at the row's last valid step; h_n/c_n are the state after the last valid step in processing
  // order (the initial state for a row with none). Every layer sees the same mask. Any pattern is
  // allowed (Keras's pad_sequences pads at the front); a right-padded mask equals `lengths`, and
  // the two are exclusive. What each backend serves: the reference and fused backends any mask
  // (fused: the stepwise kernels; Lstm::execution_plan(req) says so), cudnn a right-padded
  // (lengths) or left-padded (shifted) one, and it refuses others naming the row.
  const std::uint8_t* mask = nullptr;
  const void* h0 = nullptr;  // (L·D, N, H_out); null = zeros
  const void* c0 = nullptr;  // (L·D, N, H);     null = zeros
  void* y = nullptr;         // return_sequences: (T, N, D·H_out) or (N, T, D·H_out)
  void* h_n = nullptr;       // return_state: (L·D, N, H_out) state after each row's last step
  void* c_n = nullptr;       // return_state: (L·D, N, H)
  PaddingMode padding = PaddingMode::kZero;
  ReverseOutputOrder reverse_order = ReverseOutputOrder::kOriginal;
  // Device scratch for GPU backends: at least Lstm::workspace_size(T, N) bytes, 256-byte aligned,
  // not shared with a forward still running. Null = the object's own, sized by Lstm::reserve.
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
};

// Throws Error(kInvalidArgument) naming the first bad field of `req` for `desc`.
void validate(const ModelDesc& desc, const ForwardRequest& req);

class Backend;  // internal

// One model on one backend.
//
// Concurrency: one Lstm of a GPU backend (cudnn, fused) serves one caller at a time. Its calls
// share state that no lock guards: the fused forward fills per-request-key plans, cuBLASLt GEMM
// descriptors and CUDA graphs, and reads the kernel variants reserve measured (as
// execution_plan does); the cudnn forward and even the const workspace_size rewrite the
// backend's data descriptors and plan. So calls on one object, the const ones included, must
// not overlap (serialise them, e.g. with a mutex, as the Python package does), and forwards
// of one object enqueued on different streams must not overlap on the GPU while they use the
// object's own workspace: they would share it. For concurrent work create one Lstm per thread
// and per stream (each uploads its own copy of the weights); different objects share no
// state but the device. A reference-backend Lstm keeps no state between calls: its forward may
// be called from several threads at once.
class Lstm {
 public:
  // Validates desc and weights, then packs and uploads the weights once (GPU backends
  // synchronise here, never in forward). Throws kUnsupported naming the feature and backend when
  // the backend cannot serve the model, kNoDevice when a GPU backend has no GPU.
  static Lstm create(const ModelDesc& desc, const Weights& weights, const BackendOptions& options = {});

  Lstm(Lstm&&) noexcept;
  Lstm& operator=(Lstm&&) noexcept;
  ~Lstm();

  const ModelDesc& desc() const;
  const BackendOptions& options() const;  // kind resolved (never kAuto)
  std::string backend_name() const;       // "reference", "cudnn", "fused"
  MemorySpace memory_space() const;

  // Device scratch bytes forward needs for T = seq_len, N = batch (0 for the reference backend).
  std::size_t workspace_size(int seq_len, int batch) const;
  // Host bytes forward_host allocates for T = seq_len, N = batch besides the caller's buffers, at
  // its peak: the reference backend holds a layer's input and output sequences in double
  // (8·T·N·(in + D·H_out)); GPU backends convert float16/bfloat16 data through host copies.
  std::size_t host_workspace_size(int seq_len, int batch) const;
  // Sizes the object's own workspace for shapes up to seq_len × batch, so that forward without a
  // caller workspace never allocates. For exactly this shape it also measures: fused with
  // FusedKernel::kAuto times one forward of each usable kernel variant and keeps the fastest;
  // cudnn builds PERSIST_DYNAMIC for the batch size and, with CudnnAlgo::kAuto, times every
  // algorithm cuDNN accepts. Allocates and synchronises the device.
  void reserve(int seq_len, int batch);

  // Runs on `stream` (ignored by the reference backend, which computes before returning).
  // GPU backends enqueue only: no device allocation, host synchronisation or blocking copy.
  // Without a caller workspace the shape must fit a previous reserve() (else kInvalidArgument
  // says so). Host work per call:
  //   fused: the first forward of a request key (T, N, layout, padding, reverse order, and which
  //     of lengths / mask / initial state / y / h_n / c_n are given) chooses the kernel variants
  //     (occupancy queries on the device), builds the plan, creates the cuBLASLt GEMM
  //     descriptors and runs cuBLASLt's heuristic query (once per GEMM shape and buffer
  //     alignment), then captures the call and instantiates a CUDA graph: the slow call of the
  //     key. A later forward of the key with the same buffer addresses only launches that graph;
  //     new addresses capture it again and update the graph in place (instantiate it again when
  //     CUDA refuses the update). On the legacy default stream (nullptr) or a stream the caller
  //     is capturing, the work is enqueued directly, without a graph of its own.
  //   cudnn: every forward sets cuDNN's data descriptors for its shape and lengths on the host
  //     (nothing is cached per shape; PERSIST_DYNAMIC plans are built by reserve, never here).
  // Before a latency-critical path: reserve, then one forward of each request key. One object
  // serves one caller at a time (see the class comment).
  void forward(const ForwardRequest& req, cudaStream_t stream = nullptr);

  // Same contract with every data pointer in host memory, whatever the backend: GPU backends stage
  // through device buffers, reserve as needed and synchronise. For CLIs, tests and quick use.
  void forward_host(const ForwardRequest& req);

  // What runs for requests of T = seq_len, N = batch: one line per layer naming the kernel
  // variant and its shape (fused: stepwise, persistent or cluster, and why a persistent choice
  // fell back); other backends name themselves. It enqueues no work and does not synchronise,
  // but the fused backend queries the device (kernel occupancy and cluster limits; it sets the
  // persistent kernels' shared-memory attribute), so it needs the GPU, and like every call it
  // must not overlap another call on the same object.
  std::string execution_plan(int seq_len, int batch) const;
  // The same for one request's shape and options (its data is not read; a mask's presence is:
  // masked requests run the fused backend's stepwise kernels).
  std::string execution_plan(const ForwardRequest& req) const;
  // Reads the persistent kernels' status report. The fused backend's persistent and cluster
  // variants, whose blocks wait on each other, give up after a time bound (or on an exchange
  // protocol violation) instead of hanging the GPU, and the first block that gives up writes
  // the report to host-mapped memory. Throws Error(kCudaError) naming the layer, block, step and
  // cause if a forward enqueued earlier on this object gave up (its outputs are then invalid),
  // and clears the report. Call after synchronising the stream; forward() checks it at entry
  // and forward_host() after its forward. Other CUDA errors are not read here (they surface at
  // the next checked CUDA call); the reference and cudnn backends have no such report.
  void check_persistent_status();

 private:
  explicit Lstm(std::unique_ptr<Backend> impl);
  std::unique_ptr<Backend> impl_;
};

// ---- the machine --------------------------------------------------------------------------------
struct GpuInfo {
  int ordinal = 0;
  std::string name;
  int compute_major = 0, compute_minor = 0;
  std::size_t memory_bytes = 0;
  int multiprocessors = 0;
};

// The GPU backends live in a module (liblstmrt_gpu.so) that the core loads on first use together
// with cuDNN 9 and cuBLAS, found in the process, LSTMRT_GPU_LIBRARY_PATH, the nvidia-* pip packages
// PyTorch installs, the system's library path or the CUDA toolkit (in that order);
// LSTMRT_GPU_MODULE names the module file explicitly. Nothing CUDA is loaded before that, so
// the reference backend, the file readers and the CLI run on machines without them.
struct SystemInfo {
  std::string version;                                   // lstmrt version
  std::vector<std::string> backends_built;               // compiled in
  std::vector<std::string> backends_usable;              // usable on this machine now
  int cuda_runtime_version = 0;                          // the CUDA the GPU backends are built with, e.g. 13000
  int cuda_driver_version = 0;                           // 0 when no driver
  std::size_t cudnn_version = 0;                         // e.g. 91900; 0 when not loadable
  int cudnn_cuda_version = 0;                            // the CUDA that cuDNN was built for, e.g. 13000
  int cublas_version = 0;                                // e.g. 130000; 0 when not loadable
  std::vector<GpuInfo> gpus;                             // empty is a normal answer
  std::string gpu_status;                                // "ok", or why there are no GPUs (e.g. no driver)
  std::string gpu_libraries_status;                      // "ok", or which library could not be loaded and where
                                                         // lstmrt looked for it
  std::string cudnn_path, cublas_path, gpu_module_path;  // the files loaded ("" when not)
};

// Loads the GPU libraries and module to report on them (the first call may take a second).
SystemInfo query_system();
bool gpu_available();  // a GPU and a driver are present (loads no library but the driver's)
std::string to_string(BackendKind kind);
BackendKind backend_from_string(const std::string& name);  // throws naming the valid choices
std::string to_string(DataType t);  // NumPy's names ("float32", "int64", "bool", ...) and "bfloat16"
// The DataType that to_string names `name` (any value; BackendOptions take the storage types
// only, is_storage_type). Throws Error(kInvalidArgument) naming it and the accepted names.
DataType data_type_from_string(const std::string& name);
std::string to_string(CudnnAlgo a);
std::string to_string(FusedKernel k);
FusedKernel fused_kernel_from_string(const std::string& name);  // throws naming the valid choices

}  // namespace lstmrt
