#include "fused/persistent_plan.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/check.hpp"
#include "common/elements.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/persistent_lstm.hpp"

namespace lstmrt::fused {

namespace {

std::size_t align_up(std::size_t v, std::size_t a) { return (v + a - 1) / a * a; }
int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Row stride of a shared-memory matrix: the row rounded up to 16 bytes, plus one 16-byte pad so
// consecutive rows start in different banks.
std::int64_t padded_ld(int cols, std::size_t elem) {
  return static_cast<std::int64_t>((align_up(cols * elem, kSmemAlignment) + kSmemRowPadBytes) / elem);
}

// Appends a region of `bytes` at the next aligned offset.
SmemRegion place(std::size_t& cursor, std::size_t bytes) {
  SmemRegion r{align_up(cursor, kSmemAlignment), bytes};
  cursor = r.offset + bytes;
  return r;
}

PersistentPlan no_fit(PersistentPlan p, std::string reason) {
  p.fits = false;
  p.reason = std::move(reason);
  p.blocks.clear();
  return p;
}

// The planner's view of one exchange (sizes from the kernel header's persistent_exchange_bytes).
ExchangeLayout exchange_layout(TagGranularity tags, int rows, int width, int blocks) {
  ExchangeLayout x;
  x.tags = tags;
  x.rows = rows;
  x.width = width;
  x.blocks = blocks;
  const int per_value = tags == TagGranularity::kPerValue;
  x.values_bytes = static_cast<std::size_t>(kernels::persistent_exchange_values_bytes(per_value, rows, width));
  x.total_bytes = static_cast<std::size_t>(kernels::persistent_exchange_bytes(per_value, rows, width, blocks));
  return x;
}

}  // namespace

std::string persistent_activation_refusal(const ModelDesc& desc) {
  for (int d = 0; d < desc.num_directions(); ++d) {
    const CellActivations& a = desc.activations[d];
    for (const Activation* act : {&a.gate, &a.cell, &a.hidden})
      if (!kernels::persistent_evaluates(kernels::to_act_params(*act).kind))
        return fmt::format(
            "activation {}: the persistent kernels evaluate ONNX's and Keras's classic activations "
            "(sigmoid, tanh, relu, hard_sigmoid, elu, softsign, softplus, ...); the stepwise kernels "
            "every one",
            to_string(*act));
  }
  return {};
}

DeviceLimits device_limits(const kernels::PersistentDeviceInfo& info) {
  DeviceLimits limits;
  limits.sm_count = info.sm_count;
  limits.registers_per_sm = info.registers_per_sm;
  limits.max_registers_per_thread = kMaxRegistersPerThread;
  limits.smem_per_block = static_cast<std::size_t>(info.max_smem_per_block > 0 ? info.max_smem_per_block : 0);
  limits.max_cluster_size = info.max_cluster_size;
  return limits;
}

kernels::PersistentPartition PersistentPlan::partition() const {
  return {directions,       hidden,          proj,          batch, blocks_per_direction, clusters_per_direction,
          rows_per_cluster, units_per_block, proj_per_block};
}

std::size_t ExchangeLayout::value_offset(int slot, int row, int unit) const {
  const std::size_t entry = (static_cast<std::size_t>(slot) * rows + row) * width + unit;
  return tags == TagGranularity::kPerValue ? entry * 8 : entry * sizeof(float);
}

std::size_t ExchangeLayout::tag_offset(int slot, int row, int unit, int block) const {
  if (tags == TagGranularity::kPerValue) return value_offset(slot, row, unit) + sizeof(float);
  return values_bytes + (static_cast<std::size_t>(slot) * blocks + block) * sizeof(std::int32_t);
}

PersistentPlan make_persistent_plan(const ModelDesc& desc, DataType weight_type, int batch, int seq_len,
                                    const DeviceLimits& limits, FusedKernel variant) {
  if (batch < 1 || seq_len < 1)
    detail::invalid("persistent plan: batch {} and seq_len {} must be >= 1", batch, seq_len);
  if (limits.sm_count < 1 || limits.registers_per_sm < 1 || limits.max_registers_per_thread < 1 ||
      limits.smem_per_block == 0)
    detail::invalid(
        "persistent plan: device limits must be positive (SMs {}, registers/SM {}, registers/thread {}, "
        "shared memory/block {})",
        limits.sm_count, limits.registers_per_sm, limits.max_registers_per_thread, limits.smem_per_block);
  PersistentPlan p;
  p.variant = variant;
  p.weight_type = weight_type;
  p.directions = desc.num_directions();
  p.hidden = desc.hidden_size;
  p.out_size = desc.output_size();
  p.proj = desc.proj_size;
  p.batch = batch;
  p.tags_per_launch = kernels::persistent_tags_per_launch(seq_len);
  if (weight_type == DataType::kFloat16)
    return no_fit(p, "float16 weights: the persistent kernels take float32 or bfloat16");
  if (std::string why = persistent_activation_refusal(desc); !why.empty()) return no_fit(p, why);
  const std::size_t elem = detail::element_bytes(weight_type);
  const int per_register = static_cast<int>(4 / elem);
  const int D = p.directions, H = p.hidden, Hout = p.out_size, P = p.proj;

  // Blocks: grid = one block per SM split evenly between directions; cluster = one cluster per
  // direction and batch slice, as many clusters as SMs allow (at most one per row).
  int max_blocks = 0;
  if (variant == FusedKernel::kPersistent) {
    max_blocks = limits.sm_count / D;
  } else {
    if (limits.max_cluster_size < 1) return no_fit(p, "the device has no thread-block clusters");
    max_blocks = std::min(limits.max_cluster_size, limits.sm_count / D);
  }
  if (max_blocks < 1) return no_fit(p, fmt::format("{} SMs cannot hold {} directions", limits.sm_count, D));
  p.units_per_block = ceil_div(H, std::min(max_blocks, H));
  p.blocks_per_direction = ceil_div(H, p.units_per_block);  // no empty blocks
  const int B = p.blocks_per_direction, U = p.units_per_block;
  p.proj_per_block = P > 0 ? ceil_div(P, B) : 0;
  if (variant == FusedKernel::kPersistent) {
    p.clusters_per_direction = 1;
    p.rows_per_cluster = batch;
  } else {
    const int clusters = std::max(1, std::min(limits.sm_count / (D * B), batch));
    p.rows_per_cluster = ceil_div(batch, clusters);
    p.clusters_per_direction = ceil_div(batch, p.rows_per_cluster);
  }
  const int rows = p.rows_per_cluster;

  // Registers: one block per SM, so a thread may use registers_per_sm / threads (capped by the
  // per-thread limit); kReservedRegistersPerThread of them do the work, the rest (at most what the
  // kernels are compiled with, kernels::persistent_register_columns) hold weights in whole tiles
  // of kRegisterTileStep (a device with fewer registers: a plan for the CPU SIMT tests only).
  const int regs_cap =
      std::min(limits.max_registers_per_thread, limits.registers_per_sm / kernels::kPersistentBlockThreads);
  const int max_weight_regs =
      std::min(kernels::kPersistentWeightRegisters,
               std::max(0, (regs_cap - kReservedRegistersPerThread) / kRegisterTileStep * kRegisterTileStep));
  // Row slots per warp (header): the fewest instantiated slots covering all 4U rows, fewer while
  // slots · cols_per_lane elements exceed the register budget.
  const int warps = kernels::kPersistentWarps;
  p.cols_per_lane = ceil_div(Hout, 32);
  const int wanted = ceil_div(4 * U, warps);
  int slots = 0;  // choices ascend: stop at the first that covers every row
  for (int choice : kernels::kPersistentSlotChoices) {
    if (p.cols_per_lane > kernels::persistent_register_columns(choice, per_register) ||
        choice * p.cols_per_lane > max_weight_regs * per_register)
      continue;
    slots = choice;
    if (choice >= wanted) break;
  }
  p.register_slots = slots;
  p.register_rows = std::min(4 * U, slots * warps);
  p.per_thread_elements = slots * p.cols_per_lane;
  p.weight_registers = ceil_div(ceil_div(p.per_thread_elements, per_register), kRegisterTileStep) * kRegisterTileStep;
  p.registers_per_thread = p.weight_registers + kReservedRegistersPerThread;

  // Shared memory, in this order (SmemLayout).
  SmemLayout& s = p.smem;
  std::size_t cursor = 0;
  s.w_hh_ld = padded_ld(Hout, elem);
  s.w_hh = place(cursor, static_cast<std::size_t>(4 * U - p.register_rows) * s.w_hh_ld * elem);
  if (P > 0) {
    s.w_hr_ld = padded_ld(H, elem);
    s.w_hr = place(cursor, static_cast<std::size_t>(p.proj_per_block) * s.w_hr_ld * elem);
  }
  s.h_stage = place(cursor, static_cast<std::size_t>(rows) * Hout * sizeof(float));
  if (P > 0) s.m_stage = place(cursor, static_cast<std::size_t>(rows) * H * sizeof(float));
  s.gates = place(cursor, static_cast<std::size_t>(rows) * 4 * U * sizeof(float));
  s.c_state = place(cursor, static_cast<std::size_t>(rows) * U * sizeof(float));
  s.vectors = place(cursor, static_cast<std::size_t>(7) * U * sizeof(float));
  const TagGranularity tags =
      variant == FusedKernel::kPersistent ? TagGranularity::kPerValue : TagGranularity::kPerSlice;
  p.h_exchange = exchange_layout(tags, rows, Hout, B);
  if (P > 0) p.m_exchange = exchange_layout(tags, rows, H, B);
  if (variant == FusedKernel::kCluster)
    s.exchange = place(cursor, p.h_exchange.total_bytes + align_up(p.m_exchange.total_bytes, kSmemAlignment));
  s.total_bytes = align_up(cursor, kSmemAlignment);

  if (p.registers_per_thread > regs_cap)
    return no_fit(p, fmt::format("{} weight registers per thread + {} reserved exceed the {} available",
                                 p.weight_registers, kReservedRegistersPerThread, regs_cap));
  if (s.total_bytes > limits.smem_per_block)
    return no_fit(
        p, fmt::format("{} variant, {} weights, H={} H_out={} N={}: {} blocks of {} units need {} bytes of "
                       "shared memory per block ({} for W_hh rows beyond the {} in registers), the limit is {}",
                       to_string(variant), elem == 4 ? "float32" : "bfloat16", H, Hout, batch, B, U, s.total_bytes,
                       s.w_hh.bytes, p.register_rows, limits.smem_per_block));

  const kernels::PersistentPartition partition = p.partition();
  for (int id = 0; id < kernels::persistent_block_count(partition); ++id)
    p.blocks.push_back(kernels::persistent_block(partition, id));
  p.fits = true;
  return p;
}

}  // namespace lstmrt::fused
