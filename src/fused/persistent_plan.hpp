// Host planner for the persistent LSTM kernels (kernels/persistent_lstm.hpp): one launch
// per layer and time chunk, each block keeping its slice of the recurrent weights on chip
// (registers + shared memory) for all the chunk's steps. Pure host code, CPU-tested
// (tests/cpu/test_persistent_plan.cpp); its plans drive the kernel itself on the CPU SIMT executor
// (tests/simt/test_simt_persistent.cpp); the fused backend dispatches on it
// (src/fused/fused_choose.hpp).
//
// Partition (both variants; the slice arithmetic is kernels::persistent_block, the register map
// kernels::persistent_register_source / _element, the tags kernels::persistent_tag / _slot): per
// direction, the H hidden units are cut into `blocks` contiguous ranges of at most
// `units_per_block` units. A block owns ALL FOUR gate rows of its units
// (W_hh rows g·H + j, g in i f g o), so the cell math stays in the block. Its W_hh slice is the
// 4·U × H_out matrix whose local row r = g·U + (j − unit_first) is W_hh row g·H + j. With a
// projection a block also owns projected units [proj_first, proj_last) and their W_hr rows.
//
// Where the slice lives: local rows [0, register_rows) in registers, warp-row-major (GRNN-style,
// so each row's dot product is one warp's lane sums plus a fixed shuffle tree: deterministic):
// row r belongs to warp r % warps as its row slot r / warps (< register_slots); column k to lane
// k % 32 as its column slot k / 32; the thread's element (column slot · register_slots + row
// slot), two consecutive elements per 32-bit register for bf16 (kernels::persistent_register_element). Column-slot
// major, so one staged h value feeds all of a lane's row slots; the kernel is compiled per slot
// count (kernels/persistent_lstm.hpp kPersistentSlotChoices), which makes every element index a
// compile-time constant. Rows [register_rows, 4U) and the whole W_hr slice live in shared memory,
// row-major with padded leading dimensions (SmemLayout).
//
// Exchange (grid variant): every h value carries its step tag, Lamport-style. Entry = {float value,
// int32 tag} written as ONE 64-bit store. The value processing step s reads (the state before
// step s) lives in slot s % 2 with tag tag_base + s + 1, s counted from the launch's first step
// (the buffers are zeroed once per forward and tag_base grows by chunk_steps + 1 per launch, so
// neither a stale entry nor a zeroed one ever matches). Double buffering is safe: a block
// can only write slot s % 2 again (step s + 2's input) after every block published step s + 1's
// values, which each does only after it finished reading slot s % 2. With a projection each step
// has two exchanges: m (H values, pre-projection) in slot s % 2 tag tag_base + s + 1, then h (P).
// Cluster variant: per-slice tags (one int32 per source block and slot, written after the slice's
// values and a cluster-scope release fence) in each block's own shared memory, pushed over DSMEM;
// the m receive buffer follows the h one directly (both 8-byte multiples).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/persistent_lstm.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt::fused {

// Device limits the planner needs (from cudaGetDeviceProperties on the device; a struct so the
// planner is CPU-testable).
struct DeviceLimits {
  int sm_count = 0;
  int registers_per_sm = 0;  // 32-bit registers
  int max_registers_per_thread = 0;
  std::size_t smem_per_block = 0;  // opt-in dynamic shared memory limit per block (bytes)
  int max_cluster_size = 0;        // blocks per cluster with the non-portable attribute
};
// Registers one thread may address: 255 on every architecture the kernels are built for (an ISA
// limit, not a device property: no attribute reports it).
constexpr int kMaxRegistersPerThread = 255;
// The limits of a device from its queried facts (kernels::persistent_device_info): SMs, registers
// per SM, the shared memory the kernels may opt into, the largest cluster.
DeviceLimits device_limits(const kernels::PersistentDeviceInfo& info);

// Register and shared-memory budgeting the planner assumes (threads per block, one block per SM:
// kernels::kPersistentBlockThreads).
constexpr int kReservedRegistersPerThread = 64;  // addresses, accumulators, loop state
constexpr int kRegisterTileStep = 32;            // weight registers per thread come in steps of 32
constexpr std::size_t kSmemAlignment = 16;       // every shared region and row starts 16-byte aligned
constexpr std::size_t kSmemRowPadBytes = 16;     // one 16-byte vector of padding per row (banks)

enum class TagGranularity { kPerValue, kPerSlice };

// One exchanged vector (h, or m with a projection): `width` values for each of `rows` rows, two
// slots (step parity). kPerValue: entries {float, int32 tag} of 8 bytes at
// ((slot·rows + row)·width + unit)·8, the tag at +4. kPerSlice: float values at
// ((slot·rows + row)·width + unit)·4, then int32 tags at values_bytes + (slot·blocks + block)·4.
struct ExchangeLayout {
  TagGranularity tags = TagGranularity::kPerValue;
  int slots = 2, rows = 0, width = 0, blocks = 0;
  std::size_t values_bytes = 0, total_bytes = 0;
  std::size_t value_offset(int slot, int row, int unit) const;
  std::size_t tag_offset(int slot, int row, int unit, int block) const;  // unit (kPerValue) or block (kPerSlice)
};

// Per-block shared memory regions (bytes from the block's dynamic shared memory start).
struct SmemRegion {
  std::size_t offset = 0, bytes = 0;
};
struct SmemLayout {
  std::int64_t w_hh_ld = 0, w_hr_ld = 0;  // elements between rows (padded)
  SmemRegion w_hh;                        // local rows [register_rows, 4U) × H_out, weight type
  SmemRegion w_hr;                        // proj_per_block rows × H, weight type (P > 0)
  SmemRegion h_stage;                     // rows × H_out float: the gathered h of the step
  SmemRegion m_stage;                     // rows × H float: the gathered m (P > 0)
  SmemRegion gates;                       // rows × 4U float: gate pre-activations (cross-thread reduction target)
  SmemRegion c_state;                     // rows × U float
  SmemRegion vectors;                     // bias 4U + peepholes 3U float
  SmemRegion exchange;                    // cluster variant: the block's receive buffers (h, then m), else empty
  std::size_t total_bytes = 0;
};

struct PersistentPlan {
  bool fits = false;
  std::string reason;  // why not (then the stepwise path serves), empty when it fits
  FusedKernel variant = FusedKernel::kPersistent;
  DataType weight_type = DataType::kFloat32;
  int directions = 1, hidden = 0, out_size = 0, proj = 0, batch = 0;
  int blocks_per_direction = 0;  // grid: blocks per direction; cluster: blocks per cluster
  int clusters_per_direction = 1;
  int rows_per_cluster = 0;      // batch rows one block serves
  int units_per_block = 0;       // U
  int proj_per_block = 0;        // projected units per block (P > 0)
  int register_slots = 0;        // rows per warp in registers (a kPersistentSlotChoices value)
  int register_rows = 0;         // local W_hh rows held in registers: min(4U, register_slots · warps)
  int weight_registers = 0;      // 32-bit weight registers per thread (multiple of kRegisterTileStep)
  int registers_per_thread = 0;  // weight_registers + reserved
  int cols_per_lane = 0;         // ceil(H_out / 32): column slots per lane
  int per_thread_elements = 0;   // register_slots · cols_per_lane
  SmemLayout smem;
  ExchangeLayout h_exchange, m_exchange;         // m_exchange only with a projection
  std::int32_t tags_per_launch = 0;              // T + 1: tag_base advance per launch
  std::vector<kernels::PersistentBlock> blocks;  // every block of the launch, by block id
  int total_blocks() const { return static_cast<int>(blocks.size()); }
  kernels::PersistentPartition partition() const;  // the sizes and per-block counts above
};

// Plans one layer's persistent launch for `batch` rows and `seq_len` steps. variant kCluster:
// the whole layer in one cluster of <= max_cluster_size blocks, several clusters for batch slices.
// Empty when the persistent kernels evaluate every activation of `desc`; else why not, naming it
// (kernels/lstm_cell_math.cuh: persistent_evaluates).
std::string persistent_activation_refusal(const ModelDesc& desc);

// Never throws for shapes that do not fit: fits = false with a reason.
PersistentPlan make_persistent_plan(const ModelDesc& desc, DataType weight_type, int batch, int seq_len,
                                    const DeviceLimits& limits, FusedKernel variant);

}  // namespace lstmrt::fused
