// The fused backend's per-element work, ONE code path for the GPU kernels (kernels/fused_step.cu,
// kernels/persistent_lstm.cu, run on the CPU by the SIMT executor in tests/simt): the index
// arithmetic of the per-step gate kernel and of the state initialisation, on top of
// lstm_cell_math.cuh's gate math.
//
// Layouts (all row-major; D directions, N rows, H hidden, H_out output width, T steps):
//   gates_x   float32, (time, row) at (t − gates_time_base[d])·gates_time_stride + b·gates_row_stride,
//             then d·4H + gate·H + j: (chunk, N, D·4H) time-major, or (N, T, D·4H) for a batch-major
//             layer-0 input run as one GEMM
//   gates_h   (D, N, 4H)       float32  W_hh·h of this step (ignored when !has_recurrent: skipped, or
//                                       already accumulated into gates_x)
//   bias      (D, 4H)          float32  b_ih + b_hh;  peephole (D, 3H) float32, blocks i f o
//   c_state   (D, N, H)        float32  the cell state, updated in place
//   h_state   (D, N, H_out)    storage  without projection: written here; with one: the projection
//                                       GEMM's output, read to emit the previous step
//   m_state   (D, N, H)        storage  o⊙act(c) before projection (P > 0 only)
//   out       y or a layer's output: element (t, b, d·H_out + j) at
//             t'·out_time_stride + b·out_row_stride + d·H_out + j, t' = out_flip ? T−1−t : t
//   h_n, c_n  (D, N, H_out) / (D, N, H) storage, already offset to this layer's first state slot
//
// Processing step s of row b (length len) is at input time t = s (forward) or len−1−s (reverse)
// while s < len; at s >= len the row is frozen and step s writes y's padded position t = s:
// zero, or (carry_last) the forward direction's last h (zero before any output, and always zero
// for the reverse direction, which meets the padding before its first valid step).
// With a per-step mask instead (mask_bits set; exclusive with lengths) step s is at t = s
// (forward) or T−1−s (reverse) for every row; a masked t freezes the row for that step and writes
// y at t: zero, or (carry_last) the row's h once a valid step has come before it in processing
// order (zero before). h_n / c_n are written at the row's last valid step in processing order (or
// from the initial state at s = 0 for a row with none). Projected models with h0 under a mask: the
// projection GEMM rewrites h_state for every row, so a row whose leading steps are masked loses
// h0 there; its first valid step takes the recurrent term from gates_h0 = W_hh·h0 instead.
#pragma once

#include <stdint.h>

#include "kernels/lstm_cell_math.cuh"
#include "lstmrt/data_type.hpp"

// float16 / bfloat16 storage: nvcc, and the CPU SIMT executor's host build of the kernels
// (LSTMRT_SIMT: cuda_bf16.h / cuda_fp16.h have host implementations).
#if defined(__CUDACC__) || defined(LSTMRT_SIMT)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace lstmrt::kernels {

struct GateStepParams {
  int seq_len, batch, hidden, out_size, directions;
  int step;           // processing step s (the chunk's end for an emit-only launch)
  int compute;        // 0: emit-only (projected models, at the end of each time chunk)
  int has_recurrent;  // 0: gates_h is not read (zero h at s = 0, or W_hh·h already in gates_x)
  int emit_previous;  // projected models: write step s−1's h (now in h_state) to out / h_n
  int projected;
  int carry_last;  // PaddingMode::kCarryLast
  int reverse[2];
  int gates_time_base[2];
  int64_t gates_time_stride, gates_row_stride;
  const float* gates_x;
  const float* gates_h;
  const float* bias;
  const float* peephole;  // null without peepholes
  float* c_state;
  void* h_state;
  void* m_state;  // null without projection
  void* out;      // null: no per-step output (top layer without y)
  int64_t out_time_stride, out_row_stride;
  int out_flip;
  void* h_n;               // null: not requested
  void* c_n;               // null: not requested
  const int32_t* lengths;  // device (N); null: every row runs seq_len steps
  // Per-step mask on the device (src/request_mask.hpp's packed form), or null: step t of row b is
  // valid when bit t%32 of mask_bits[b·mask_words + t/32] is set; mask_first / mask_last (N) hold
  // each row's first and last valid input times (−1: none).
  const uint32_t* mask_bits;
  const int32_t* mask_first;
  const int32_t* mask_last;
  int mask_words;
  const float* gates_h0;  // (D, N, 4H) float32 W_hh·h0, read at a row's first valid step; null unless
                          // masked, projected and with an initial state
  CellMathParams cell[2];
};

struct InitStateParams {
  int batch, hidden, out_size, directions;
  const void* h0;  // (D, N, H_out) storage, this layer's slots; null = zeros (then c0 is null too)
  const void* c0;  // (D, N, H) storage
  void* h_state;
  float* c_state;
  void* m_state;  // null without projection; zeroed otherwise
};

LSTMRT_HD inline float to_float(float v) { return v; }
LSTMRT_HD inline void store_float(float* p, float v) { *p = v; }
#if defined(__CUDACC__) || defined(LSTMRT_SIMT)
LSTMRT_HD inline float to_float(__half v) { return __half2float(v); }
LSTMRT_HD inline float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
LSTMRT_HD inline void store_float(__half* p, float v) { *p = __float2half_rn(v); }
LSTMRT_HD inline void store_float(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
#endif

// Input time of processing step `step` for a row of length `len`, or −1 when the row is frozen.
LSTMRT_HD inline int step_time(int reverse, int len, int step) {
  if (step >= len) return -1;
  return reverse ? len - 1 - step : step;
}

template <typename T>
LSTMRT_HD inline void write_output(const GateStepParams& p, int d, int b, int j, int t, T value) {
  if (!p.out) return;
  const int64_t time = p.out_flip ? p.seq_len - 1 - t : t;
  static_cast<T*>(p.out)[time * p.out_time_stride + b * p.out_row_stride + d * p.out_size + j] = value;
}

// Where processing step s of row b, direction slot d stands (lengths, mask or neither).
struct RowStep {
  int t;       // the input time a valid step reads; a frozen step's y position
  bool valid;  // the step updates the row's state
  bool first;  // valid, and the row's first valid step in processing order
  bool last;   // valid, and the row's last valid step in processing order (h_n, c_n)
  bool seen;   // a valid step came before s in processing order (carry_last repeats its h)
  bool none;   // the row has no valid step: its final state is the initial state
};

LSTMRT_HD inline RowStep row_step(const GateStepParams& p, int d, int b, int s) {
  RowStep r;
  const int reverse = p.reverse[d];
  if (p.mask_bits) {
    const int t = reverse ? p.seq_len - 1 - s : s;
    const int first = p.mask_first[b], last = p.mask_last[b];
    r.t = t;
    r.valid = (p.mask_bits[static_cast<int64_t>(b) * p.mask_words + t / 32] >> (t % 32)) & 1u;
    r.first = r.valid && t == (reverse ? last : first);
    r.last = r.valid && t == (reverse ? first : last);
    r.seen = reverse ? last > t : (first >= 0 && first < t);
    r.none = first < 0;
    return r;
  }
  const int len = p.lengths ? p.lengths[b] : p.seq_len;
  const int t = step_time(reverse, len, s);
  r.valid = t >= 0;
  r.t = r.valid ? t : s;
  r.first = r.valid && s == 0;
  r.last = r.valid && s == len - 1;
  r.seen = !reverse && len > 0;  // only asked for frozen steps s >= len
  r.none = len == 0;
  return r;
}

// Projected models: the h of step s_prev (the projection GEMM's output, in h_state) goes to y and,
// at the row's last valid step, to h_n. j < H_out.
template <typename T>
LSTMRT_HD inline void emit_projected(const GateStepParams& p, int d, int b, int j, int s_prev) {
  const int64_t state = static_cast<int64_t>(d) * p.batch + b;
  const T h = static_cast<const T*>(p.h_state)[state * p.out_size + j];
  const RowStep r = row_step(p, d, b, s_prev);
  if (r.valid) {
    write_output(p, d, b, j, r.t, h);
    if (r.last && p.h_n) static_cast<T*>(p.h_n)[state * p.out_size + j] = h;
  } else {
    T padded;
    store_float(&padded, 0.0f);
    write_output(p, d, b, j, r.t, p.carry_last && r.seen ? h : padded);
  }
}

// One hidden unit j (0 .. H−1) of row b, direction slot d, at processing step p.step.
template <typename T>
LSTMRT_HD inline void gate_step_element(const GateStepParams& p, int d, int b, int j) {
  const int N = p.batch, H = p.hidden, Ho = p.out_size;
  if (p.emit_previous && j < Ho) emit_projected<T>(p, d, b, j, p.step - 1);
  if (!p.compute) return;
  const int s = p.step;
  const int64_t state = static_cast<int64_t>(d) * N + b;
  float* c = p.c_state + state * H + j;
  T* h_state = static_cast<T*>(p.h_state) + state * Ho + j;
  const RowStep r = row_step(p, d, b, s);
  if (!r.valid) {  // frozen: state untouched
    if (!p.projected) {
      T padded;
      store_float(&padded, 0.0f);
      write_output(p, d, b, j, r.t, p.carry_last && r.seen ? *h_state : padded);
    }
    if (s == 0 && r.none) {  // never runs: the final state is the initial state
      if (p.c_n) store_float(static_cast<T*>(p.c_n) + state * H + j, *c);
      if (p.h_n && j < Ho) static_cast<T*>(p.h_n)[state * Ho + j] = *h_state;
    }
    return;
  }
  const int t = r.t;
  const int64_t gates = 4 * static_cast<int64_t>(H);
  const float* gx =
      p.gates_x + (t - p.gates_time_base[d]) * p.gates_time_stride + b * p.gates_row_stride + d * gates + j;
  const bool from_h0 = p.gates_h0 && r.first;  // h_state no longer holds h0 (see the header)
  const float* gh = (from_h0 ? p.gates_h0 : p.gates_h) + state * gates + j;
  const bool recurrent = p.has_recurrent || from_h0;
  const float* bias = p.bias + d * gates + j;
  float z[4];
  for (int k = 0; k < 4; ++k) z[k] = gx[k * H] + bias[k * H] + (recurrent ? gh[k * H] : 0.0f);
  float p_i = 0.0f, p_f = 0.0f, p_o = 0.0f;
  if (p.peephole) {
    const float* peep = p.peephole + d * 3 * static_cast<int64_t>(H) + j;
    p_i = peep[0], p_f = peep[H], p_o = peep[2 * H];
  }
  const CellResult cr = cell_step(p.cell[d], z[0], z[1], z[2], z[3], *c, p_i, p_f, p_o);
  *c = cr.c;
  if (r.last && p.c_n) store_float(static_cast<T*>(p.c_n) + state * H + j, cr.c);
  if (p.projected) {
    store_float(static_cast<T*>(p.m_state) + state * H + j, cr.h);
    return;
  }
  store_float(h_state, cr.h);
  write_output(p, d, b, j, t, *h_state);
  if (r.last && p.h_n) static_cast<T*>(p.h_n)[state * Ho + j] = *h_state;
}

// Unit j (0 .. H−1) of row b, direction slot d: state from h0/c0 or zeros.
template <typename T>
LSTMRT_HD inline void init_state_element(const InitStateParams& p, int d, int b, int j) {
  const int64_t state = static_cast<int64_t>(d) * p.batch + b;
  p.c_state[state * p.hidden + j] = p.c0 ? to_float(static_cast<const T*>(p.c0)[state * p.hidden + j]) : 0.0f;
  if (p.m_state) store_float(static_cast<T*>(p.m_state) + state * p.hidden + j, 0.0f);
  if (j >= p.out_size) return;
  T* h = static_cast<T*>(p.h_state) + state * p.out_size + j;
  if (p.h0)
    *h = static_cast<const T*>(p.h0)[state * p.out_size + j];
  else
    store_float(h, 0.0f);
}

}  // namespace lstmrt::kernels
