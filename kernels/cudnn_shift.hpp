// Left-padded rows around cudnnRNNForward: a per-step mask whose valid steps are each row's LAST
// len steps (Keras's pad_sequences pads at the front by default), which cuDNN cannot take — its
// rows are right-padded. So x is gathered into scratch with each row's valid steps moved to the
// front (in reverse too for a reversed run, src/cudnn/cudnn_plan.hpp), cuDNN runs with lengths
// len, and y is gathered back to the original times with the padding the request asks for.
// h_n/c_n need nothing: a row's state after its valid steps is the same either way. Pure copies
// of raw 2- or 4-byte elements, like kernels/cudnn_transforms.hpp, whose sequence_vector and
// FinishOutputsParams they share; the index maps are __host__ __device__ so CPU tests check what
// the kernels compute.
#pragma once

#include "kernels/cudnn_transforms.hpp"

namespace lstmrt::kernels {

// Step of x that step s of the shifted copy reads, for a row whose valid steps are T−len … T−1:
// T−len+s, or T−1−s for a reversed run (the valid steps last to first); a step s >= len reads
// itself (cuDNN ignores the padding of a row).
LSTMRT_TRANSFORM_HD inline int shifted_input_step(int s, int len, int steps, bool reversed_run) {
  if (s >= len) return s;
  return reversed_run ? steps - 1 - s : steps - len + s;
}

// Which step of cuDNN's (shifted) y feeds output step t of one direction slot of a left-padded
// row, or −1 for zeros. `len` is the row's true length (0: all zeros); reversed_run and
// processing as output_source_step. carry_last: carry-over padding for this slot — only a slot
// that runs backwards in time meets the front padding after its valid steps (it repeats original
// step T−len, the last it processed); a forward slot meets it first and writes zeros.
LSTMRT_TRANSFORM_HD inline int shifted_output_source_step(int t, int len, int steps, bool reversed_run, bool processing,
                                                          bool carry_last) {
  if (len <= 0) return -1;
  const int offset = steps - len;
  int s = processing ? steps - 1 - t : t;  // original time step
  if (s < offset) {
    if (!carry_last) return -1;
    s = offset;
  }
  s -= offset;  // the step of the shifted run
  return reversed_run ? len - 1 - s : s;
}

// dst[s, b, :] = src[shifted_input_step(s, lengths[b], T, reversed_run), b, :]. src and dst must
// not overlap.
struct ShiftRowsParams {
  const void* src;
  void* dst;
  const std::int32_t* lengths;  // DEVICE (N): true lengths in [0, T]
  int steps, rows, width;       // T, N, C
  bool batch_major;
  bool reversed_run;
  int element_bytes;  // 2 or 4
};
void launch_shift_rows(const ShiftRowsParams& p, cudaStream_t stream);

// FinishOutputsParams (lengths: the true ones) with shifted_output_source_step: for every output
// step t, row b, slot d: dst[t, b, d·W : (d+1)·W] = src[shifted_output_source_step(t, len, T,
// reversed_run, processing, carry_last && slot_reverse[d]), b, same channels], or zeros. src and
// dst must not overlap.
void launch_finish_shifted_outputs(const FinishOutputsParams& p, cudaStream_t stream);

}  // namespace lstmrt::kernels
