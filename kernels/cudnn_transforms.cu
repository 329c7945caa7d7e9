// The cudnn backend's transform kernels: grid-stride copies over the index maps of
// cudnn_transforms.hpp; device primitives (indices, launch) are kernels/device.cuh's.
#include "kernels/cudnn_transforms.hpp"

#include "kernels/device.cuh"
#include "kernels/grid_stride.cuh"

namespace lstmrt::kernels {
namespace {

using grid_stride::check_element_bytes;
using grid_stride::kThreads;
using grid_stride::shape_for;

// One thread per element; element index = vector index · C + channel, in the destination's layout.
template <typename E>
__global__ void __launch_bounds__(kThreads) reverse_rows_kernel(ReverseRowsParams p) {
  const E* src = static_cast<const E*>(p.src);
  E* dst = static_cast<E*>(p.dst);
  const std::int64_t total = static_cast<std::int64_t>(p.steps) * p.rows * p.width;
  for (std::int64_t k = dev::block_x() * static_cast<std::int64_t>(dev::block_dim_x()) + dev::thread_x(); k < total;
       k += static_cast<std::int64_t>(dev::grid_dim_x()) * dev::block_dim_x()) {
    const int c = static_cast<int>(k % p.width);
    const std::int64_t v = k / p.width;
    const int t = p.batch_major ? static_cast<int>(v % p.steps) : static_cast<int>(v / p.rows);
    const int b = p.batch_major ? static_cast<int>(v / p.steps) : static_cast<int>(v % p.rows);
    const int s = reversed_input_step(t, p.lengths[b]);
    dst[k] = src[sequence_vector(s, b, p.steps, p.rows, p.batch_major) * p.width + c];
  }
}

template <typename E>
__global__ void __launch_bounds__(kThreads) finish_outputs_kernel(FinishOutputsParams p) {
  const E* src = static_cast<const E*>(p.src);
  E* dst = static_cast<E*>(p.dst);
  const int vector = p.directions * p.width;  // D·W channels per (t, b)
  const std::int64_t total = static_cast<std::int64_t>(p.steps) * p.rows * vector;
  for (std::int64_t k = dev::block_x() * static_cast<std::int64_t>(dev::block_dim_x()) + dev::thread_x(); k < total;
       k += static_cast<std::int64_t>(dev::grid_dim_x()) * dev::block_dim_x()) {
    const int c = static_cast<int>(k % vector);
    const std::int64_t v = k / vector;
    const int t = p.batch_major ? static_cast<int>(v % p.steps) : static_cast<int>(v / p.rows);
    const int b = p.batch_major ? static_cast<int>(v / p.steps) : static_cast<int>(v % p.rows);
    const int d = c / p.width;
    // A select, not p.slot_reverse[d]: indexing the parameter array at run time would copy the
    // whole struct to the stack.
    const bool slot_reverse = d == 0 ? p.slot_reverse[0] : p.slot_reverse[1];
    const int s =
        output_source_step(t, p.lengths[b], p.steps, p.reversed_run, p.processing, p.carry_last && !slot_reverse);
    if (s < 0) {
      dst[k] = E(0);
    } else if (s != t || src != dst) {
      dst[k] = src[sequence_vector(s, b, p.steps, p.rows, p.batch_major) * vector + c];
    }
  }
}

template <typename E>
__global__ void __launch_bounds__(kThreads) restore_states_kernel(RestoreStatesParams p) {
  // Elements of one (slot, row) pair: the h part then the c part.
  const int per_row = p.h_width + p.c_width;
  const std::int64_t total = static_cast<std::int64_t>(p.slots) * p.rows * per_row;
  for (std::int64_t k = dev::block_x() * static_cast<std::int64_t>(dev::block_dim_x()) + dev::thread_x(); k < total;
       k += static_cast<std::int64_t>(dev::grid_dim_x()) * dev::block_dim_x()) {
    const int j = static_cast<int>(k % per_row);
    const std::int64_t slot_row = k / per_row;  // slot · N + b
    const int b = static_cast<int>(slot_row % p.rows);
    if (p.lengths[b] != 0) continue;
    if (j < p.h_width) {
      if (!p.h_n) continue;
      const std::int64_t at = slot_row * p.h_width + j;
      static_cast<E*>(p.h_n)[at] = p.h0 ? static_cast<const E*>(p.h0)[at] : E(0);
    } else {
      if (!p.c_n) continue;
      const std::int64_t at = slot_row * p.c_width + (j - p.h_width);
      static_cast<E*>(p.c_n)[at] = p.c0 ? static_cast<const E*>(p.c0)[at] : E(0);
    }
  }
}

}  // namespace

void launch_reverse_rows(const ReverseRowsParams& p, cudaStream_t stream) {
  check_element_bytes(p.element_bytes, "reverse_rows");
  if (p.steps < 1 || p.rows < 1 || p.width < 1)
    detail::invalid("reverse_rows: shape ({}, {}, {}): expected every size >= 1", p.steps, p.rows, p.width);
  if (!p.src || !p.dst || !p.lengths) detail::invalid("reverse_rows: src, dst and lengths must be device pointers");
  const dev::LaunchShape shape = shape_for(static_cast<std::int64_t>(p.steps) * p.rows * p.width, stream);
  if (p.element_bytes == 4)
    dev::launch("reverse_rows_kernel<uint32>", reverse_rows_kernel<std::uint32_t>, shape, p);
  else
    dev::launch("reverse_rows_kernel<uint16>", reverse_rows_kernel<std::uint16_t>, shape, p);
}

void launch_finish_outputs(const FinishOutputsParams& p, cudaStream_t stream) {
  check_element_bytes(p.element_bytes, "finish_outputs");
  if (p.steps < 1 || p.rows < 1 || p.width < 1 || p.directions < 1 || p.directions > 2)
    detail::invalid("finish_outputs: shape ({}, {}, {}×{}): expected sizes >= 1 and 1 or 2 directions", p.steps, p.rows,
                    p.directions, p.width);
  if (!p.src || !p.dst || !p.lengths) detail::invalid("finish_outputs: src, dst and lengths must be device pointers");
  if (p.src == p.dst && (p.reversed_run || p.processing))
    detail::invalid("finish_outputs: a reversed or go_backwards gather cannot run in place: expected src != dst");
  const dev::LaunchShape shape =
      shape_for(static_cast<std::int64_t>(p.steps) * p.rows * p.directions * p.width, stream);
  if (p.element_bytes == 4)
    dev::launch("finish_outputs_kernel<uint32>", finish_outputs_kernel<std::uint32_t>, shape, p);
  else
    dev::launch("finish_outputs_kernel<uint16>", finish_outputs_kernel<std::uint16_t>, shape, p);
}

void launch_restore_states(const RestoreStatesParams& p, cudaStream_t stream) {
  check_element_bytes(p.element_bytes, "restore_states");
  if (p.slots < 1 || p.rows < 1 || p.h_width < 1 || p.c_width < 1)
    detail::invalid("restore_states: shape ({}, {}, {}/{}): expected every size >= 1", p.slots, p.rows, p.h_width,
                    p.c_width);
  if (!p.lengths) detail::invalid("restore_states: lengths must be a device pointer");
  if ((p.h0 == nullptr) != (p.c0 == nullptr)) detail::invalid("restore_states: expected both h0 and c0 or neither");
  if (!p.h_n && !p.c_n) return;
  const dev::LaunchShape shape =
      shape_for(static_cast<std::int64_t>(p.slots) * p.rows * (p.h_width + p.c_width), stream);
  if (p.element_bytes == 4)
    dev::launch("restore_states_kernel<uint32>", restore_states_kernel<std::uint32_t>, shape, p);
  else
    dev::launch("restore_states_kernel<uint16>", restore_states_kernel<std::uint16_t>, shape, p);
}

}  // namespace lstmrt::kernels
