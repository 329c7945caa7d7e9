// The cudnn backend's shift kernels for left-padded rows: grid-stride copies over the index maps of
// cudnn_shift.hpp; device primitives (indices, launch) are kernels/device.cuh's.
#include "kernels/cudnn_shift.hpp"

#include "kernels/device.cuh"
#include "kernels/grid_stride.cuh"

namespace lstmrt::kernels {
namespace {

using grid_stride::check_element_bytes;
using grid_stride::kThreads;
using grid_stride::shape_for;

// One thread per element; element index = vector index · C + channel, in the destination's layout.
template <typename E>
__global__ void __launch_bounds__(kThreads) shift_rows_kernel(ShiftRowsParams p) {
  const E* src = static_cast<const E*>(p.src);
  E* dst = static_cast<E*>(p.dst);
  const std::int64_t total = static_cast<std::int64_t>(p.steps) * p.rows * p.width;
  for (std::int64_t k = dev::block_x() * static_cast<std::int64_t>(dev::block_dim_x()) + dev::thread_x(); k < total;
       k += static_cast<std::int64_t>(dev::grid_dim_x()) * dev::block_dim_x()) {
    const int c = static_cast<int>(k % p.width);
    const std::int64_t v = k / p.width;
    const int t = p.batch_major ? static_cast<int>(v % p.steps) : static_cast<int>(v / p.rows);
    const int b = p.batch_major ? static_cast<int>(v / p.steps) : static_cast<int>(v % p.rows);
    const int s = shifted_input_step(t, p.lengths[b], p.steps, p.reversed_run);
    dst[k] = src[sequence_vector(s, b, p.steps, p.rows, p.batch_major) * p.width + c];
  }
}

template <typename E>
__global__ void __launch_bounds__(kThreads) finish_shifted_outputs_kernel(FinishOutputsParams p) {
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
    const int s = shifted_output_source_step(t, p.lengths[b], p.steps, p.reversed_run, p.processing,
                                             p.carry_last && slot_reverse);
    dst[k] = s < 0 ? E(0) : src[sequence_vector(s, b, p.steps, p.rows, p.batch_major) * vector + c];
  }
}

}  // namespace

void launch_shift_rows(const ShiftRowsParams& p, cudaStream_t stream) {
  check_element_bytes(p.element_bytes, "shift_rows");
  if (p.steps < 1 || p.rows < 1 || p.width < 1)
    detail::invalid("shift_rows: shape ({}, {}, {}): expected every size >= 1", p.steps, p.rows, p.width);
  if (!p.src || !p.dst || !p.lengths) detail::invalid("shift_rows: src, dst and lengths must be device pointers");
  if (p.src == p.dst) detail::invalid("shift_rows: a gather cannot run in place: expected src != dst");
  const dev::LaunchShape shape = shape_for(static_cast<std::int64_t>(p.steps) * p.rows * p.width, stream);
  if (p.element_bytes == 4)
    dev::launch("shift_rows_kernel<uint32>", shift_rows_kernel<std::uint32_t>, shape, p);
  else
    dev::launch("shift_rows_kernel<uint16>", shift_rows_kernel<std::uint16_t>, shape, p);
}

void launch_finish_shifted_outputs(const FinishOutputsParams& p, cudaStream_t stream) {
  check_element_bytes(p.element_bytes, "finish_shifted_outputs");
  if (p.steps < 1 || p.rows < 1 || p.width < 1 || p.directions < 1 || p.directions > 2)
    detail::invalid("finish_shifted_outputs: shape ({}, {}, {}×{}): expected sizes >= 1 and 1 or 2 directions", p.steps,
                    p.rows, p.directions, p.width);
  if (!p.src || !p.dst || !p.lengths)
    detail::invalid("finish_shifted_outputs: src, dst and lengths must be device pointers");
  if (p.src == p.dst) detail::invalid("finish_shifted_outputs: a gather cannot run in place: expected src != dst");
  const dev::LaunchShape shape =
      shape_for(static_cast<std::int64_t>(p.steps) * p.rows * p.directions * p.width, stream);
  if (p.element_bytes == 4)
    dev::launch("finish_shifted_outputs_kernel<uint32>", finish_shifted_outputs_kernel<std::uint32_t>, shape, p);
  else
    dev::launch("finish_shifted_outputs_kernel<uint16>", finish_shifted_outputs_kernel<std::uint16_t>, shape, p);
}

}  // namespace lstmrt::kernels
