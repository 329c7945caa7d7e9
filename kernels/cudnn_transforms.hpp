// Data movement around cudnnRNNForward for what cuDNN lacks (src/cudnn/cudnn_plan.hpp says when
// each runs): reversing x per row for reverse-only models, finishing y (gather back from a reversed
// run, Keras go_backwards order, Keras carry-over padding, zeroing zero-length rows) and restoring
// h_n/c_n of zero-length rows. Pure copies: they work on raw 2- or 4-byte elements, so one
// instantiation serves float32, and one float16 and bfloat16 (zero is all-zero bits in each).
//
// Sequences are dense row-major (T, N, C) time-major or (N, T, C) batch-major; states are
// (S, N, W) with S = L·D slots. The index maps are __host__ __device__ so CPU tests check exactly
// what the kernels compute.
#pragma once

#include <cstddef>
#include <cstdint>

typedef struct CUstream_st* cudaStream_t;  // as cuda_runtime_api.h declares it

#if defined(__CUDACC__)
#define LSTMRT_TRANSFORM_HD __host__ __device__
#else
#define LSTMRT_TRANSFORM_HD
#endif

namespace lstmrt::kernels {

// Row index (in units of C-element vectors) of step t of batch row b.
LSTMRT_TRANSFORM_HD inline std::int64_t sequence_vector(int t, int b, int steps, int rows, bool batch_major) {
  return batch_major ? static_cast<std::int64_t>(b) * steps + t : static_cast<std::int64_t>(t) * rows + b;
}

// Step of x that step s of the reversed copy reads: the row's valid steps in reverse
// (len−1 … 0), padded steps (s >= len) unchanged. `len` is the length cuDNN runs (>= 1).
LSTMRT_TRANSFORM_HD inline int reversed_input_step(int s, int len) { return s < len ? len - 1 - s : s; }

// Which step of cuDNN's y feeds output step t of one direction slot of row b, or −1 for zeros.
//   len             the row's TRUE length (0 allowed: the whole row is zeros)
//   reversed_run    cuDNN ran on x reversed per row, so its step s is original step len−1−s
//   processing      Keras go_backwards: output step t is original step T−1−t
//   carry_last      Keras carry-over padding for this slot: padded steps repeat step len−1
//                   (only for slots that run forward in time; reverse slots meet padding first)
LSTMRT_TRANSFORM_HD inline int output_source_step(int t, int len, int steps, bool reversed_run, bool processing,
                                                  bool carry_last) {
  if (len <= 0) return -1;
  int s = processing ? steps - 1 - t : t;  // original time step
  if (s >= len) {
    if (!carry_last) return -1;
    s = len - 1;
  }
  return reversed_run ? len - 1 - s : s;
}

// dst[s, b, :] = src[reversed_input_step(s, lengths[b]), b, :]. src and dst must not overlap.
struct ReverseRowsParams {
  const void* src;
  void* dst;
  const std::int32_t* lengths;  // DEVICE (N), each in [1, T]
  int steps, rows, width;       // T, N, C
  bool batch_major;
  int element_bytes;  // 2 or 4
};
void launch_reverse_rows(const ReverseRowsParams& p, cudaStream_t stream);

// For every output step t, row b, direction slot d: dst[t, b, d·W : (d+1)·W] =
// src[output_source_step(...), b, same channels], or zeros. src may equal dst (in place) only when
// reversed_run and processing are false: then every element read is either itself or a step that
// is never written.
struct FinishOutputsParams {
  const void* src;
  void* dst;
  const std::int32_t* lengths;  // DEVICE (N), true lengths in [0, T]
  int steps, rows, width;       // T, N, W = H_out (per direction)
  int directions;               // D
  bool batch_major;
  bool reversed_run;
  bool processing;
  bool carry_last;       // Keras carry-over padding requested
  bool slot_reverse[2];  // slot d runs backwards in time (no carry there)
  int element_bytes;
};
void launch_finish_outputs(const FinishOutputsParams& p, cudaStream_t stream);

// For every row b with lengths[b] == 0 and every slot: h_n[slot, b, :] = h0[slot, b, :] and
// c_n[slot, b, :] = c0[slot, b, :], zeros when h0/c0 are null. Null h_n or c_n is skipped.
struct RestoreStatesParams {
  void* h_n;
  void* c_n;
  const void* h0;
  const void* c0;
  const std::int32_t* lengths;  // DEVICE (N)
  int slots, rows;              // L·D, N
  int h_width, c_width;         // H_out, H
  int element_bytes;
};
void launch_restore_states(const RestoreStatesParams& p, cudaStream_t stream);

}  // namespace lstmrt::kernels
