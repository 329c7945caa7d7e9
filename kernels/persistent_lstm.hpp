// The persistent LSTM kernels: ONE launch runs `step_count` processing steps of one layer
// (both directions), each block keeping its slice of W_hh (and W_hr) on chip for the whole launch.
// The host planner (src/fused/persistent_plan.hpp) decides the partition, the register/shared
// memory split and every shared-memory offset; src/fused/persistent_params.cpp turns a plan into
// these parameters; kernels/persistent_lstm.cu is the device code. Everything here is plain C++,
// and the arithmetic both sides need (thread count, block slices, register map, step tags and
// slots) is defined here ONLY: the planner, the kernel and the tests call these functions.
//
// Blocks (direction-major): block id = (d·C + c)·B + rank, C = clusters_per_direction (1 in grid
// mode), B = blocks_per_direction. The block owns hidden units [rank·U, min(H, (rank+1)·U)), all
// four gates of them, projected units [rank·PB, min(P, (rank+1)·PB)) and batch rows
// [c·R, min(N, (c+1)·R)) (grid mode: every row, R = N). persistent_block() is that arithmetic;
// its local W_hh row r is W_hh row (r / units)·H + unit_first + r % units (persistent_w_hh_row).
//
// Register-resident W_hh (local row r < register_rows, column k; warps = 8): warp r % 8, row slot
// s = r / 8 < register_slots, lane k % 32, column slot c = k / 32 < cols_per_lane; the thread's
// element e = c·register_slots + s (fp32: register e; bf16: register e / 2, low half for even e).
// The kernel is instantiated for each slot count in kPersistentSlotChoices: e is then a
// compile-time index and the weights stay in registers.
//
// Per local step ls (processing step s = first_step + ls), per block:
//   1. ls > 0: wait for every h value of step ls (persistent_tag: tag_base + ls + 1, in
//      persistent_slot: ls % 2) and stage it
//      as float; ls = 0 stages h_state (written by init_state or the previous launch).
//   2. gates[row][g·U + u] = W_hh row · h (registers, then shared-memory rows), warp-reduced with a
//      fixed shuffle tree (deterministic).
//   3. cell math (lstm_cell_math.cuh) per (row, unit); publish h (or m with a projection) for the
//      next exchange; y, h_n, c_n as the stepwise kernel writes them (fused_step_math.cuh).
//   4. projection: wait for m of step ls, h = W_hr · m for the block's projected units, publish h.
// At the end every block waits for the last exchange (so nobody still reads h_state) and writes its
// units of h_state / c_state for the next launch.
// Exchange: grid mode = global memory, one {float value, int32 tag} 64-bit word per entry, written
// with ONE relaxed 64-bit store and read with relaxed 64-bit loads (the tag and its value are one
// single-copy-atomic word); cluster mode = every block's shared
// memory over DSMEM, values then one release-stored tag per (slot, source block). Waits spin with a
// time bound (timeout_ns): a block that gives up sets *abort_flag (the others see it and leave) and
// the first one writes *status, which the host reads (Lstm::check_persistent_status).
#pragma once

#include <stdint.h>

#include "kernels/fused_step_math.cuh"

typedef struct CUstream_st* cudaStream_t;  // as cuda_runtime_api.h declares it

namespace lstmrt::kernels {

constexpr int kPersistentBlockThreads = 256;
constexpr int kPersistentWarps = kPersistentBlockThreads / 32;
// 32-bit registers per thread holding W_hh elements (255 are available at 256 threads and one
// block per SM; the rest address, accumulate and loop): at most 160, at most 96 column slots,
// and 64 with two row slots (long per-slot FMA chains keep more staged h values in flight:
// ptxas spills beyond these; scripts/check-ptxas keeps it that way).
constexpr int kPersistentWeightRegisters = 160;
constexpr int kPersistentMaxColumnSlots = 96;
// Column slots (of 32 columns each) the instantiation for `slots` row slots holds in registers,
// and the 32-bit registers that takes; per_register = weights per register (1 fp32, 2 bf16).
LSTMRT_HD constexpr int persistent_register_columns(int slots, int per_register) {
  if (slots == 0) return 0;
  const int fit = slots == 2 ? 64 : kPersistentWeightRegisters * per_register / slots;
  return fit < kPersistentMaxColumnSlots ? fit : kPersistentMaxColumnSlots;
}
LSTMRT_HD constexpr int persistent_weight_registers(int slots, int per_register) {
  return (persistent_register_columns(slots, per_register) * slots + per_register - 1) / per_register;
}
// Register row slots (rows per warp) the kernel is compiled for; the planner picks one of these.
constexpr int kPersistentSlotChoices[] = {0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16};
constexpr int kPersistentSlotChoiceCount = sizeof(kPersistentSlotChoices) / sizeof(int);
// Default bound on one wait for an exchange (a healthy wait is microseconds).
constexpr int64_t kPersistentDefaultTimeoutNs = 2000000000;

enum PersistentStatusCode : int32_t {
  kPersistentOk = 0,
  kPersistentTimeout = 1,   // an exchange wait passed timeout_ns
  kPersistentTagAhead = 2,  // an entry carried a newer tag than awaited (protocol violation)
};
// What the first block to give up reports (host-mapped memory; code 0 = nothing happened).
struct PersistentStatus {
  int32_t code;
  int32_t layer;
  int32_t block;
  int32_t step;  // processing step whose input it waited for
};

// Byte offsets in the block's dynamic shared memory (persistent_plan.hpp SmemLayout).
struct PersistentSmem {
  uint32_t w_hh, w_hr, h_stage, m_stage, gates, c_state, vectors, exchange, total;
  int32_t w_hh_ld, w_hr_ld;  // elements between rows
};

struct PersistentParams {
  // Sizes, directions, gates_x addressing of this launch's time chunk, bias, peepholes, c_state and
  // h_state (read at the start, written at the end), outputs, lengths and cell math, exactly as the
  // stepwise gate kernel takes them. g.step = the launch's first processing step.
  GateStepParams g;
  int step_count;
  int cluster;  // 1: the cluster variant (DSMEM exchange), 0: the grid variant (global memory)
  int blocks_per_direction, clusters_per_direction, rows_per_cluster, units_per_block, proj_per_block;
  int register_slots;  // rows per warp held in registers: the kernel instantiation
  int register_rows;   // min(4U, register_slots · 8) for a full block
  int cols_per_lane;   // ceil(H_out / 32)
  PersistentSmem smem;
  const void* w_hh;  // (D, 4H, H_out) storage type (float32 or bfloat16)
  const void* w_hr;  // (D, P, H) storage type; null without a projection
  // Grid mode: the exchanges in global memory, direction d's at base + d·bytes (layout:
  // persistent_plan.hpp ExchangeLayout, per-value tags). Null in cluster mode.
  void* h_exchange;
  void* m_exchange;
  int64_t h_exchange_bytes, m_exchange_bytes;
  int32_t tag_base;          // > every tag already in the exchange buffers (zeroed per forward)
  int32_t* abort_flag;       // device word, 0 at the start of the forward
  PersistentStatus* status;  // host-mapped report; may be null
  int layer;                 // for the report
  int64_t timeout_ns;
  int exchange_only;      // benchmark: skip the arithmetic, keep every exchange (the floor)
  int debug_stall_block;  // tests: this block publishes nothing at local step debug_stall_step
  int debug_stall_step;   // (−1: never)
};

// How a layer is cut among blocks (the header comment's B, C, R, U, PB), with the sizes the slices
// clip to; P = 0 without a projection. The planner fills one before any parameters exist; the
// kernel's comes from its parameters (persistent_partition).
struct PersistentPartition {
  int directions, hidden, proj, batch;
  int blocks_per_direction, clusters_per_direction, rows_per_cluster, units_per_block, proj_per_block;
};
// Blocks of one launch: D·C·B.
LSTMRT_HD inline int persistent_block_count(const PersistentPartition& s) {
  return s.directions * s.clusters_per_direction * s.blocks_per_direction;
}

// The slice of block `id` (see the header comment). cluster = d·C + c counts clusters over both
// directions (grid mode: C = 1, so it is the direction); rank is the block's index inside it.
struct PersistentBlock {
  int direction, cluster, rank;
  int unit_first, units;
  int proj_first, projs;
  int row_first, rows;
};

LSTMRT_HD inline int persistent_min(int a, int b) { return a < b ? a : b; }

// The arithmetic, on the partition's values (B blocks per cluster, C clusters per direction, H, P,
// N, U, PB, R); the two overloads below pass them from a partition or from launch parameters.
LSTMRT_HD inline PersistentBlock persistent_block(int id, int B, int C, int H, int P, int N, int U, int PB, int R) {
  PersistentBlock b;
  b.rank = id % B;
  b.cluster = id / B;
  b.direction = b.cluster / C;
  const int c = b.cluster % C;
  b.unit_first = b.rank * U;
  b.units = persistent_min(H, b.unit_first + U) - b.unit_first;
  b.proj_first = persistent_min(P, b.rank * PB);
  b.projs = persistent_min(P, b.proj_first + PB) - b.proj_first;
  b.row_first = c * R;
  b.rows = persistent_min(N, b.row_first + R) - b.row_first;
  return b;
}
LSTMRT_HD inline PersistentBlock persistent_block(const PersistentPartition& s, int id) {
  return persistent_block(id, s.blocks_per_direction, s.clusters_per_direction, s.hidden, s.proj, s.batch,
                          s.units_per_block, s.proj_per_block, s.rows_per_cluster);
}

// The partition launch parameters `p` describe.
LSTMRT_HD inline PersistentPartition persistent_partition(const PersistentParams& p) {
  const int proj = p.g.projected ? p.g.out_size : 0;
  return {p.g.directions,
          p.g.hidden,
          proj,
          p.g.batch,
          p.blocks_per_direction,
          p.clusters_per_direction,
          p.rows_per_cluster,
          p.units_per_block,
          p.proj_per_block};
}
// (Straight from the fields rather than through persistent_partition: the kernel's prologue then
// compiles as it did before the partition struct, which keeps ptxas's allocation free of spills.)
LSTMRT_HD inline PersistentBlock persistent_block(const PersistentParams& p, int id) {
  return persistent_block(id, p.blocks_per_direction, p.clusters_per_direction, p.g.hidden,
                          p.g.projected ? p.g.out_size : 0, p.g.batch, p.units_per_block, p.proj_per_block,
                          p.rows_per_cluster);
}

// W_hh row (of direction b.direction's 4H) behind local row r < 4·b.units of block b's slice:
// gate r / units, hidden unit unit_first + r % units (a gate's rows of the block are contiguous).
LSTMRT_HD inline int64_t persistent_w_hh_row(const PersistentBlock& b, int r, int hidden) {
  return static_cast<int64_t>(r / b.units) * hidden + b.unit_first + r % b.units;
}

// The register map (header comment): element e of the thread in (warp, lane) holds local row
// r = (e % slots)·8 + warp, column k = (e / slots)·32 + lane. The kernel loads its registers with
// this; persistent_register_element is its inverse.
struct PersistentRegisterSource {
  int row, column;
};
LSTMRT_HD inline PersistentRegisterSource persistent_register_source(int slots, int element, int warp, int lane) {
  return {(element % slots) * kPersistentWarps + warp, (element / slots) * 32 + lane};
}
// Which thread (warp, lane) holds register-resident local row r (< slots·8) and column k, as its
// element: warp r % 8, lane k % 32, element (k / 32)·slots + r / 8.
struct PersistentRegisterElement {
  int warp, lane, element;
};
LSTMRT_HD inline PersistentRegisterElement persistent_register_element(int slots, int row, int column) {
  return {row % kPersistentWarps, column % 32, (column / 32) * slots + row / kPersistentWarps};
}

// Tag of the values read at local step ls (written by step ls − 1, or by the gate phase of ls for
// m), and the exchange slot they are in: two slots, by step parity.
LSTMRT_HD inline int32_t persistent_tag(int32_t tag_base, int ls) { return tag_base + ls + 1; }
LSTMRT_HD inline int persistent_slot(int ls) { return ls & 1; }
// How far tag_base advances from a launch of `step_count` steps to the next: the launch publishes
// tags up to persistent_tag(tag_base, step_count) (the h its last step writes), the next one's
// first wait is for persistent_tag(tag_base + advance, 0), so no stale entry ever matches.
LSTMRT_HD inline int32_t persistent_tags_per_launch(int step_count) { return step_count + 1; }

// Bytes of one exchanged vector (h, or m with a projection): `width` values for each of `rows`
// rows in 2 slots (step parity). Grid variant, per-value tags: one 8-byte {float value, int32 tag}
// entry per value. Cluster variant, per-slice tags: 4-byte float values, then one int32 tag per
// slot and source block (`blocks`). The planner (src/fused/persistent_plan.cpp exchange_layout),
// the workspace layout (src/fused/fused_plan.cpp) and the kernel's receive buffers use these.
LSTMRT_HD inline int64_t persistent_exchange_values_bytes(int per_value_tags, int rows, int width) {
  return 2LL * rows * width * (per_value_tags ? 8 : 4);
}
LSTMRT_HD inline int64_t persistent_exchange_bytes(int per_value_tags, int rows, int width, int blocks) {
  return persistent_exchange_values_bytes(per_value_tags, rows, width) + (per_value_tags ? 0 : 2LL * blocks * 4);
}

// Whether the kernel is instantiated for `slots` register row slots.
LSTMRT_HD inline bool persistent_slot_choice(int slots) {
  for (int i = 0; i < kPersistentSlotChoiceCount; ++i)
    if (kPersistentSlotChoices[i] == slots) return true;
  return false;
}

// Device facts the planner and the dispatcher need, for `type` (float32 or bfloat16 weights).
struct PersistentDeviceInfo {
  int sm_count;
  int registers_per_sm;    // 32-bit registers per multiprocessor
  int max_smem_per_block;  // opt-in dynamic bytes left beside the kernels' static shared memory
  int max_cluster_size;    // with the non-portable attribute; 0 without cluster support
  int cooperative_launch;  // 1 when the device supports cooperative launches
};
// Queries `device`. Throws Error(kCudaError) when a query fails.
PersistentDeviceInfo persistent_device_info(int device);

// Co-residency check for a launch: true when the `blocks` blocks `p` describes (grid mode: all of
// them at once; cluster mode: at least one cluster) can be resident together. Reads only the shape
// of `p` (no buffers, no step count), so it can run before any buffer exists. Sets the kernel's
// shared-memory attributes on the way. Throws Error(kInvalidArgument) for a shape the kernel cannot
// take, Error(kCudaError) on a failed query.
bool persistent_launch_fits(const PersistentParams& p, DataType type, int blocks, cudaStream_t stream);

// Enqueues one launch of `blocks` blocks (grid mode: cooperative, so all are co-resident or the
// launch fails; cluster mode: clusters of blocks_per_direction). Throws Error(kInvalidArgument)
// for parameters the kernel cannot take (slot count not instantiated, type not float32/bfloat16,
// sizes), Error(kCudaError) on a launch error.
void launch_persistent_lstm(const PersistentParams& p, DataType type, int blocks, cudaStream_t stream);

}  // namespace lstmrt::kernels
