// The persistent LSTM kernels: see kernels/persistent_lstm.hpp for the partition, the register
// map and the step protocol, src/fused/persistent_plan.hpp for the shared-memory layout and the
// exchange layouts. One kernel template serves both modes (grid: cooperative launch, exchange in
// global memory; cluster: cluster launch, exchange in the cluster's shared memory) and is compiled
// per weight type and register row-slot count, so every register index is a compile-time constant.
// Device primitives (indices, barriers, shuffles, shared memory, cluster, memory ordering, the
// launch and its attributes) are kernels/device.cuh's, so the CPU SIMT executor (tests/simt) runs
// this same source.
#include "kernels/persistent_lstm.hpp"

#include <map>
#include <mutex>
#include <utility>

#include "kernels/device.cuh"

namespace lstmrt::kernels {
namespace {

constexpr int kThreads = kPersistentBlockThreads;
constexpr int kWarps = kPersistentWarps;
constexpr unsigned kFullMask = 0xffffffffu;

// Weight element <-> 32-bit register: fp32 one per register; bf16 two, element 2q in the low half.
template <typename W>
struct WeightRegister;
template <>
struct WeightRegister<float> {
  static constexpr int kPerRegister = 1;
  __device__ static uint32_t bits(float v) { return dev::float_as_uint(v); }
  __device__ static float unpack(uint32_t reg, int) { return dev::uint_as_float(reg); }
};
template <>
struct WeightRegister<__nv_bfloat16> {
  static constexpr int kPerRegister = 2;
  __device__ static uint32_t bits(__nv_bfloat16 v) { return dev::bf16_as_ushort(v); }
  __device__ static float unpack(uint32_t reg, int half) { return dev::unpack_bf16(reg, half); }
};

// ---- the exchange's memory operations (kernels/device.cuh) ---------------------------------------
// Grid mode polls with relaxed, not acquire, loads: an entry's value travels in the same
// single-copy-atomic 64-bit word as its tag, so nothing else needs ordering behind the load, and
// relaxed loads of a thread's entries can all be in flight at once (acquire loads would serialise
// them). The only other order the protocol needs — a block's reads of a step before its writes of
// the next — holds because every value it publishes is computed from what it read, after a block
// barrier. Cluster mode: values, a cluster-scope acq_rel fence and a barrier, then one
// release-stored tag per (slot, source block), acquire-loaded by the reader.
__device__ __forceinline__ uint64_t exchange_entry(float value, int32_t tag) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(tag)) << 32) | dev::float_as_uint(value);
}

// Sum over the warp with a fixed xor tree: the same order on every run (bitwise repeatable).
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += dev::shfl_xor(kFullMask, v, offset);
  return v;
}

// ---- giving up instead of hanging ---------------------------------------------------------------
// The first block to give up claims *abort_flag and writes the host-visible report (code last, so
// a host that sees a code sees the rest). Every block polls *abort_flag while it waits.
__device__ void give_up(const PersistentParams& p, int32_t code, int step, dev::SharedPtr<volatile int> block_abort) {
  if (dev::atomic_cas(p.abort_flag, 0, code) == 0 && p.status) {
    volatile PersistentStatus* s = p.status;
    s->layer = p.layer;
    s->block = static_cast<int32_t>(dev::block_x());
    s->step = step;
    dev::threadfence_system();
    s->code = code;
    dev::threadfence_system();
  }
  *block_abort = 1;
}

// Spins until poll() returns 1; false when the block gives up: poll() returned −1 (a newer tag:
// protocol violation), the wait passed timeout_ns, or another block (or thread) gave up.
template <typename Poll>
__device__ bool spin_until(const PersistentParams& p, int step, dev::SharedPtr<volatile int> block_abort, Poll poll) {
  uint64_t start = 0;
  for (unsigned spins = 0;; ++spins) {
    const int r = poll();
    if (r > 0) return true;
    if (r < 0) {
      give_up(p, kPersistentTagAhead, step, block_abort);
      return false;
    }
    if ((spins & 63u) == 63u) {
      if (*block_abort || *reinterpret_cast<volatile int32_t*>(p.abort_flag)) {
        *block_abort = 1;
        return false;
      }
      const uint64_t now = dev::global_timer_ns();
      if (start == 0) {
        start = now;
      } else if (static_cast<int64_t>(now - start) > p.timeout_ns) {
        give_up(p, kPersistentTimeout, step, block_abort);
        return false;
      }
    }
  }
}

__device__ __forceinline__ int tag_state(int32_t got, int32_t want) { return got == want ? 1 : (got > want ? -1 : 0); }

// One exchanged vector (h: width H_out, or m: width H) as this block sees it.
struct Exchange {
  int width;
  // Grid mode: the direction's buffer, entries ((slot·N + row)·width + unit), 8 bytes each.
  uint64_t* global;
  // Cluster mode: this block's receive buffer in shared memory: values (slot, local row, unit),
  // then one tag per (slot, source rank).
  dev::SharedPtr<float> values;
  dev::SharedPtr<int32_t> tags;
};

// Stages the block's rows of the vector read at local step ls into stage[local row · width + k].
// Returns false when the block gives up (then every thread of the block returns false).
__device__ bool receive(const PersistentParams& p, const PersistentBlock& blk, const Exchange& x, int ls,
                        dev::SharedPtr<float> stage, dev::SharedPtr<volatile int> block_abort) {
  const int slot = persistent_slot(ls), step = p.g.step + ls;
  const int32_t tag = persistent_tag(p.tag_base, ls);
  const int count = blk.rows * x.width;
  if (!p.cluster) {
    // The thread's entries i = threadIdx.x + k·kThreads, polled kReceiveBatch at a time (all loads
    // of a round in flight together) until every tag matches.
    constexpr int kReceiveBatch = 2;
    const uint64_t* base = x.global + (static_cast<int64_t>(slot) * p.g.batch + blk.row_first) * x.width;
    for (int first = dev::thread_x(); first < count; first += kThreads * kReceiveBatch) {
      unsigned pending = 0;
#pragma unroll
      for (int k = 0; k < kReceiveBatch; ++k)
        if (first + k * kThreads < count) pending |= 1u << k;
      const bool received = spin_until(p, step, block_abort, [&] {
        uint64_t v[kReceiveBatch];
#pragma unroll
        for (int k = 0; k < kReceiveBatch; ++k)
          if (pending & (1u << k)) v[k] = dev::load_relaxed_gpu(base + first + k * kThreads);
        int state = 1;
#pragma unroll
        for (int k = 0; k < kReceiveBatch; ++k) {
          if (!(pending & (1u << k))) continue;
          const int got = tag_state(static_cast<int32_t>(v[k] >> 32), tag);
          if (got > 0) {
            stage[first + k * kThreads] = dev::uint_as_float(static_cast<uint32_t>(v[k]));
            pending &= ~(1u << k);
          } else {
            state = got < 0 ? -1 : (state < 0 ? -1 : 0);
          }
        }
        return state;
      });
      if (!received) break;
    }
    dev::sync_block();
    return !*block_abort;
  }
  if (dev::thread_x() < p.blocks_per_direction) {
    const dev::SharedPtr<const int32_t> t = x.tags + slot * p.blocks_per_direction + dev::thread_x();
    spin_until(p, step, block_abort, [&] { return tag_state(dev::load_acquire_cluster_shared(t), tag); });
  }
  dev::sync_block();
  if (*block_abort) return false;
  const dev::SharedPtr<const float> values = x.values + static_cast<int64_t>(slot) * p.rows_per_cluster * x.width;
  for (int i = dev::thread_x(); i < count; i += kThreads) stage[i] = values[i];
  dev::sync_block();
  return true;
}

// Publishes value v of (local row lb, unit j) for the exchange read at local step ls: grid = one
// 64-bit store of {value, tag}; cluster = the value into every block of the cluster (the tags
// follow in publish_tags once the whole block has written).
__device__ __forceinline__ void publish(const PersistentParams& p, const PersistentBlock& blk, const Exchange& x,
                                        int ls, int lb, int j, float v) {
  const int slot = persistent_slot(ls);
  if (!p.cluster) {
    const int64_t entry = (static_cast<int64_t>(slot) * p.g.batch + blk.row_first + lb) * x.width + j;
    dev::store_relaxed_gpu(x.global + entry, exchange_entry(v, persistent_tag(p.tag_base, ls)));
    return;
  }
  const dev::SharedPtr<float> local = x.values + (static_cast<int64_t>(slot) * p.rows_per_cluster + lb) * x.width + j;
  for (int rank = 0; rank < p.blocks_per_direction; ++rank) *dev::map_shared_rank(local, rank) = v;
}

// Cluster mode: after every thread's publish, this block's tag for the exchange read at ls goes
// to every block of the cluster (release: the values are visible before the tag). Grid mode: the
// tags travelled with the values. Called by all threads.
__device__ void publish_tags(const PersistentParams& p, const PersistentBlock& blk, const Exchange& x, int ls,
                             bool stalled) {
  if (!p.cluster) return;
  dev::fence_acq_rel_cluster();
  dev::sync_block();
  if (stalled || dev::thread_x() >= p.blocks_per_direction) return;
  const dev::SharedPtr<int32_t> local = x.tags + persistent_slot(ls) * p.blocks_per_direction + blk.rank;
  dev::store_release_cluster(dev::map_shared_rank(local, static_cast<int>(dev::thread_x())),
                             persistent_tag(p.tag_base, ls));
}

template <typename W, int kSlots>
__global__ void __launch_bounds__(kThreads, 1) persistent_lstm_kernel(const __grid_constant__ PersistentParams p) {
  using Reg = WeightRegister<W>;
  constexpr int kPer = Reg::kPerRegister;
  constexpr int kCols = persistent_register_columns(kSlots, kPer);  // column slots held
  constexpr int kRegs = kSlots > 0 ? persistent_weight_registers(kSlots, kPer) : 1;

  LSTMRT_DYNAMIC_SHARED(unsigned char, smem, 16);
  LSTMRT_STATIC_SHARED(int, block_abort_storage, 1);
  const dev::SharedPtr<volatile int> block_abort = block_abort_storage;

  const GateStepParams& g = p.g;
  const PersistentBlock blk = persistent_block(p, static_cast<int>(dev::block_x()));
  const int d = blk.direction, H = g.hidden, Ho = g.out_size, N = g.batch, U = p.units_per_block;
  const int units = blk.units, rows = blk.rows;
  const bool grid_mode = !p.cluster;
  const bool projected = g.projected != 0;
  const int warp = static_cast<int>(dev::thread_x()) / 32, lane = static_cast<int>(dev::thread_x()) % 32;
  const int reg_rows = persistent_min(p.register_rows, 4 * units);
  const int cpl = p.cols_per_lane;

  const dev::SharedPtr<W> w_sm = dev::shared_cast<W>(smem + p.smem.w_hh);
  const dev::SharedPtr<W> wr_sm = dev::shared_cast<W>(smem + p.smem.w_hr);
  const dev::SharedPtr<float> h_stage = dev::shared_cast<float>(smem + p.smem.h_stage);
  const dev::SharedPtr<float> m_stage = dev::shared_cast<float>(smem + p.smem.m_stage);
  const dev::SharedPtr<float> gates_sm = dev::shared_cast<float>(smem + p.smem.gates);
  const dev::SharedPtr<float> c_sm = dev::shared_cast<float>(smem + p.smem.c_state);
  const dev::SharedPtr<float> vec_sm = dev::shared_cast<float>(smem + p.smem.vectors);

  // Exchanges. Cluster receive buffers: h values (2, R, H_out) then tags (2, B); m right after.
  Exchange hx{Ho, nullptr, nullptr, nullptr}, mx{H, nullptr, nullptr, nullptr};
  if (grid_mode) {
    hx.global = reinterpret_cast<uint64_t*>(static_cast<char*>(p.h_exchange) + d * p.h_exchange_bytes);
    if (projected) mx.global = reinterpret_cast<uint64_t*>(static_cast<char*>(p.m_exchange) + d * p.m_exchange_bytes);
  } else {
    const int64_t h_values = persistent_exchange_values_bytes(0, p.rows_per_cluster, Ho);
    const int64_t h_total = persistent_exchange_bytes(0, p.rows_per_cluster, Ho, p.blocks_per_direction);
    const int64_t m_values = persistent_exchange_values_bytes(0, p.rows_per_cluster, H);
    hx.values = dev::shared_cast<float>(smem + p.smem.exchange);
    hx.tags = dev::shared_cast<int32_t>(smem + p.smem.exchange + h_values);
    mx.values = dev::shared_cast<float>(smem + p.smem.exchange + h_total);
    mx.tags = dev::shared_cast<int32_t>(smem + p.smem.exchange + h_total + m_values);
  }

  // ---- load the block's slice once -------------------------------------------------------------
  // Local row r of the slice is W_hh row persistent_w_hh_row (gate-major).
  const W* w_hh = static_cast<const W*>(p.w_hh) + static_cast<int64_t>(d) * 4 * H * Ho;
  auto global_row = [&](int r) { return persistent_w_hh_row(blk, r, H); };
  uint32_t wreg[kRegs];
#pragma unroll
  for (int i = 0; i < kRegs; ++i) {
    uint32_t bits = 0;
#pragma unroll
    for (int half = 0; half < kPer; ++half) {
      const int e = i * kPer + half;
      if constexpr (kSlots > 0) {
        const PersistentRegisterSource at = persistent_register_source(kSlots, e, warp, lane);
        if (e / kSlots < cpl && at.row < reg_rows && at.column < Ho)
          bits |= Reg::bits(w_hh[global_row(at.row) * Ho + at.column]) << (16 * half);
      }
    }
    wreg[i] = bits;
  }
  const int smem_rows = 4 * units - reg_rows;
  for (int i = dev::thread_x(); i < smem_rows * Ho; i += kThreads) {
    const int lr = i / Ho, k = i - lr * Ho;
    w_sm[static_cast<int64_t>(lr) * p.smem.w_hh_ld + k] = w_hh[global_row(reg_rows + lr) * Ho + k];
  }
  if (projected) {
    const W* w_hr = static_cast<const W*>(p.w_hr) + (static_cast<int64_t>(d) * Ho + blk.proj_first) * H;
    for (int i = dev::thread_x(); i < blk.projs * H; i += kThreads) {
      const int pp = i / H, k = i - pp * H;
      wr_sm[static_cast<int64_t>(pp) * p.smem.w_hr_ld + k] = w_hr[static_cast<int64_t>(pp) * H + k];
    }
  }
  for (int i = dev::thread_x(); i < units; i += kThreads) {
    const int j = blk.unit_first + i;
    for (int gate = 0; gate < 4; ++gate) vec_sm[gate * U + i] = g.bias[d * 4 * H + gate * H + j];
    if (g.peephole)
      for (int gate = 0; gate < 3; ++gate) vec_sm[(4 + gate) * U + i] = g.peephole[d * 3 * H + gate * H + j];
  }
  for (int i = dev::thread_x(); i < rows * units; i += kThreads) {
    const int lb = i / units, u = i - lb * units;
    c_sm[lb * U + u] = g.c_state[(static_cast<int64_t>(d) * N + blk.row_first + lb) * H + blk.unit_first + u];
  }
  for (int i = dev::thread_x(); i < rows * Ho; i += kThreads) {
    const int lb = i / Ho, k = i - lb * Ho;
    h_stage[i] =
        to_float(static_cast<const W*>(g.h_state)[(static_cast<int64_t>(d) * N + blk.row_first + lb) * Ho + k]);
  }
  if (dev::thread_x() == 0) *block_abort = 0;
  if (!grid_mode) {
    // Tags start below every tag of this launch; no block writes into another before all started.
    for (int i = dev::thread_x(); i < 2 * p.blocks_per_direction; i += kThreads) {
      hx.tags[i] = 0;
      if (projected) mx.tags[i] = 0;
    }
    dev::cluster_sync();
  }
  dev::sync_block();

  bool ok = true;
  for (int ls = 0; ls < p.step_count; ++ls) {
    const int s = g.step + ls;
    dev::note_step(s);
    const bool stalled = static_cast<int>(dev::block_x()) == p.debug_stall_block && ls == p.debug_stall_step;
    if (ls > 0 && !receive(p, blk, hx, ls, h_stage, block_abort)) {
      ok = false;
      break;
    }

    // ---- gates[lb][gate·U + u] = W_hh slice · h ------------------------------------------------
    if (!p.exchange_only) {
      for (int lb = 0; lb < rows; ++lb) {
        const dev::SharedPtr<const float> h_row = h_stage + lb * Ho;
        const dev::SharedPtr<float> g_row = gates_sm + lb * 4 * U;
        if constexpr (kSlots > 0) {
          float acc[kSlots];
#pragma unroll
          for (int sl = 0; sl < kSlots; ++sl) acc[sl] = 0.0f;
#pragma unroll
          for (int c = 0; c < kCols; ++c) {
            if (c < cpl) {  // a guard, not a break: the loop must unroll fully (constant indices)
              const int k = c * 32 + lane;
              const float hv = k < Ho ? h_row[k] : 0.0f;
#pragma unroll
              for (int sl = 0; sl < kSlots; ++sl) {
                const int e = c * kSlots + sl;  // persistent_register_source: row sl·8 + warp, column k
                acc[sl] = fmaf(Reg::unpack(wreg[e / kPer], e % kPer), hv, acc[sl]);
              }
            }
          }
#pragma unroll
          for (int sl = 0; sl < kSlots; ++sl) {
            const float v = warp_sum(acc[sl]);
            const int r = sl * kWarps + warp;
            if (lane == 0 && r < reg_rows) g_row[(r / units) * U + r % units] = v;
          }
        }
        for (int r = reg_rows + warp; r < 4 * units; r += kWarps) {
          const dev::SharedPtr<const W> w_row = w_sm + static_cast<int64_t>(r - reg_rows) * p.smem.w_hh_ld;
          float acc = 0.0f;
          for (int k = lane; k < Ho; k += 32) acc = fmaf(to_float(w_row[k]), h_row[k], acc);
          acc = warp_sum(acc);
          if (lane == 0) g_row[(r / units) * U + r % units] = acc;
        }
      }
    }
    dev::sync_block();

    // ---- cell math per (row, unit): publish h (or m), write y / h_n / c_n -----------------------
    W zero;
    store_float(&zero, 0.0f);
    for (int i = dev::thread_x(); i < rows * units; i += kThreads) {
      const int lb = i / units, u = i - lb * units;
      const int b = blk.row_first + lb, j = blk.unit_first + u;
      const int len = g.lengths ? g.lengths[b] : g.seq_len;
      const int t = step_time(g.reverse[d], len, s);
      const int64_t state = static_cast<int64_t>(d) * N + b;
      const dev::SharedPtr<float> c = c_sm + lb * U + u;
      float value = 0.0f;  // what the next exchange carries for (b, j)
      if (p.exchange_only) {
      } else if (t >= 0) {
        const float* gx = g.gates_x + (t - g.gates_time_base[d]) * g.gates_time_stride + b * g.gates_row_stride +
                          static_cast<int64_t>(d) * 4 * H + j;
        float z[4];
#pragma unroll
        for (int gate = 0; gate < 4; ++gate)
          z[gate] = gx[gate * H] + gates_sm[lb * 4 * U + gate * U + u] + vec_sm[gate * U + u];
        const bool peep = g.peephole != nullptr;
        const CellResult r = cell_step<true>(g.cell[d], z[0], z[1], z[2], z[3], *c, peep ? vec_sm[4 * U + u] : 0.0f,
                                             peep ? vec_sm[5 * U + u] : 0.0f, peep ? vec_sm[6 * U + u] : 0.0f);
        *c = r.c;
        if (s == len - 1 && g.c_n) store_float(static_cast<W*>(g.c_n) + state * H + j, r.c);
        W h;
        store_float(&h, r.h);  // rounded to storage as the stepwise path's h_state / m_state
        value = to_float(h);
        if (!projected) {
          write_output(g, d, b, j, t, h);
          if (s == len - 1 && g.h_n) static_cast<W*>(g.h_n)[state * Ho + j] = h;
        }
      } else {  // frozen row: state untouched, padded output; projected rows keep h in the projection phase
        if (!projected) {
          value = h_stage[lb * Ho + j];
          W h;
          store_float(&h, value);
          write_output(g, d, b, j, s, g.carry_last && !g.reverse[d] && len > 0 ? h : zero);
          if (s == 0 && len == 0 && g.h_n) static_cast<W*>(g.h_n)[state * Ho + j] = h;
        }
        if (s == 0 && len == 0 && g.c_n) store_float(static_cast<W*>(g.c_n) + state * H + j, *c);
      }
      if (!stalled) {
        if (projected)
          publish(p, blk, mx, ls, lb, j, value);
        else
          publish(p, blk, hx, ls + 1, lb, j, value);
      }
    }
    if (projected) {
      publish_tags(p, blk, mx, ls, stalled);
      if (!receive(p, blk, mx, ls, m_stage, block_abort)) {
        ok = false;
        break;
      }
      // ---- projection: h[pj] = W_hr row · m, one warp per (row, projected unit) -----------------
      for (int q = warp; q < rows * blk.projs; q += kWarps) {
        const int lb = q / blk.projs, pp = q - lb * blk.projs;
        const int b = blk.row_first + lb, pj = blk.proj_first + pp;
        const int len = g.lengths ? g.lengths[b] : g.seq_len;
        const int t = step_time(g.reverse[d], len, s);
        float v = t >= 0 ? 0.0f : h_stage[lb * Ho + pj];  // frozen rows keep h
        if (t >= 0 && !p.exchange_only) {
          const dev::SharedPtr<const W> w_row = wr_sm + static_cast<int64_t>(pp) * p.smem.w_hr_ld;
          const dev::SharedPtr<const float> m_row = m_stage + lb * H;
          float acc = 0.0f;
          for (int k = lane; k < H; k += 32) acc = fmaf(to_float(w_row[k]), m_row[k], acc);
          W h;
          store_float(&h, warp_sum(acc));
          v = to_float(h);
        }
        if (lane != 0) continue;
        if (!stalled) publish(p, blk, hx, ls + 1, lb, pj, v);
        if (p.exchange_only) continue;
        const int64_t state = static_cast<int64_t>(d) * N + b;
        W h;
        store_float(&h, v);
        if (t >= 0) {
          write_output(g, d, b, pj, t, h);
          if (s == len - 1 && g.h_n) static_cast<W*>(g.h_n)[state * Ho + pj] = h;
        } else {
          write_output(g, d, b, pj, s, g.carry_last && !g.reverse[d] && len > 0 ? h : zero);
          if (s == 0 && len == 0 && g.h_n) static_cast<W*>(g.h_n)[state * Ho + pj] = h;
        }
      }
    }
    publish_tags(p, blk, hx, ls + 1, stalled);
    dev::sync_block();  // h_stage / m_stage / gates are rewritten by the next step
  }

  // ---- hand the state to the next launch: wait for the last exchange (so no block still reads
  // h_state), then write this block's units of h_state and c_state ------------------------------
  if (ok && receive(p, blk, hx, p.step_count, h_stage, block_abort)) {
    const int first = projected ? blk.proj_first : blk.unit_first, width = projected ? blk.projs : units;
    for (int i = dev::thread_x(); i < rows * width; i += kThreads) {
      const int lb = i / width, j = first + (i - lb * width);
      store_float(static_cast<W*>(g.h_state) + (static_cast<int64_t>(d) * N + blk.row_first + lb) * Ho + j,
                  h_stage[lb * Ho + j]);
    }
    for (int i = dev::thread_x(); i < rows * units; i += kThreads) {
      const int lb = i / units, u = i - lb * units;
      g.c_state[(static_cast<int64_t>(d) * N + blk.row_first + lb) * H + blk.unit_first + u] = c_sm[lb * U + u];
    }
  }
  if (!grid_mode) dev::cluster_sync();  // nobody leaves while others may still write into it
}

using KernelFn = void (*)(PersistentParams);

template <typename W>
KernelFn kernel_for_slots(int slots) {
  switch (slots) {
    case 0: return persistent_lstm_kernel<W, 0>;
    case 1: return persistent_lstm_kernel<W, 1>;
    case 2: return persistent_lstm_kernel<W, 2>;
    case 3: return persistent_lstm_kernel<W, 3>;
    case 4: return persistent_lstm_kernel<W, 4>;
    case 5: return persistent_lstm_kernel<W, 5>;
    case 6: return persistent_lstm_kernel<W, 6>;
    case 8: return persistent_lstm_kernel<W, 8>;
    case 10: return persistent_lstm_kernel<W, 10>;
    case 12: return persistent_lstm_kernel<W, 12>;
    case 16: return persistent_lstm_kernel<W, 16>;
    default: return nullptr;
  }
}

// The instantiation for `p`, after checking what the kernel relies on: its shape always, its
// buffers and step count only for a launch (`launch`), not for an occupancy query.
KernelFn checked_kernel(const PersistentParams& p, DataType type, int blocks, bool launch) {
  const char* what = "persistent LSTM kernel";
  int per_register = 0;  // weights per 32-bit register
  KernelFn kernel = nullptr;
  switch (type) {
    case DataType::kFloat32:
      per_register = 1;
      kernel = kernel_for_slots<float>(p.register_slots);
      break;
    case DataType::kBFloat16:
      per_register = 2;
      kernel = kernel_for_slots<__nv_bfloat16>(p.register_slots);
      break;
    default: detail::invalid("{}: {} storage; expected float32 or bfloat16", what, data_type_name(type));
  }
  if (!kernel) detail::invalid("{}: {} register row slots is not a compiled choice", what, p.register_slots);
  const int D = p.g.directions, B = p.blocks_per_direction, C = p.clusters_per_direction;
  if (D < 1 || D > 2 || B < 1 || C < 1 || p.units_per_block < 1 || p.rows_per_cluster < 1 || p.g.batch < 1 ||
      p.g.hidden < 1 || p.g.out_size < 1 || p.smem.total == 0)
    detail::invalid(
        "{}: D={} blocks/direction={} clusters={} U={} rows={} N={} H={} H_out={} shared memory {}: "
        "expected D in 1..2 and the rest >= 1",
        what, D, B, C, p.units_per_block, p.rows_per_cluster, p.g.batch, p.g.hidden, p.g.out_size, p.smem.total);
  const int described = persistent_block_count(persistent_partition(p));
  if (blocks != described) detail::invalid("{}: {} blocks; the parameters describe {}", what, blocks, described);
  const int columns = persistent_register_columns(p.register_slots, per_register);
  if ((p.register_slots > 0 && p.cols_per_lane > columns) || p.cols_per_lane * 32 < p.g.out_size)
    detail::invalid(
        "{}: {} column slots (H_out={}) with {} register row slots: expected at most {} and at least "
        "H_out / 32",
        what, p.cols_per_lane, p.g.out_size, p.register_slots, columns);
  if (p.cluster && B > 16) detail::invalid("{}: {} blocks per cluster; expected at most 16", what, B);
  if (!launch) return kernel;
  if (p.step_count < 1) detail::invalid("{}: step_count {}; expected >= 1", what, p.step_count);
  if (!p.cluster && (!p.h_exchange || (p.g.projected && !p.m_exchange)))
    detail::invalid("{}: grid mode needs its exchange buffers", what);
  if (!p.abort_flag || !p.w_hh || (p.g.projected && !p.w_hr))
    detail::invalid("{}: the abort flag and the weights are required", what);
  for (int d = 0; d < D; ++d)
    for (const ActParams* a : {&p.g.cell[d].gate, &p.g.cell[d].cell, &p.g.cell[d].hidden})
      if (!persistent_evaluates(a->kind))
        detail::invalid(
            "{}: activation kind {} of direction {}: the persistent kernels evaluate the classic kinds "
            "only (persistent_evaluates)",
            what, static_cast<int>(a->kind), d);
  return kernel;
}

// The launch of `blocks` blocks: grid mode cooperative (all blocks co-resident, or the launch
// fails), cluster mode in clusters of blocks_per_direction.
dev::LaunchShape launch_shape(const PersistentParams& p, int blocks, cudaStream_t stream) {
  dev::LaunchShape shape;
  shape.grid = static_cast<unsigned>(blocks);
  shape.block = kThreads;
  shape.dynamic_smem = p.smem.total;
  shape.stream = stream;
  if (!p.cluster)
    shape.cooperative = true;
  else
    shape.cluster = static_cast<unsigned>(p.blocks_per_direction);
  return shape;
}

// The kernel's attributes, set once per (device, instantiation): the opt-in dynamic shared memory
// to the most ANY plan may use (the device's opt-in limit less the kernel's static shared memory:
// the planner's budget, fused::device_limits), and non-portable cluster sizes allowed where the
// device launches clusters. Never lowered for a smaller plan, so a graph captured with an earlier
// plan's launch stays valid whatever launches come later; no driver call per launch after the first.
void set_attributes(KernelFn kernel, const PersistentParams& p) {
  static std::mutex mutex;
  static std::map<std::pair<int, KernelFn>, int> most;  // (device, instantiation) -> dynamic bytes set
  const int device = dev::current_device();
  const std::lock_guard<std::mutex> lock(mutex);
  auto it = most.find({device, kernel});
  if (it == most.end()) {
    const int bytes =
        dev::device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin, device) - dev::func_static_smem(kernel);
    dev::func_set_attribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    if (dev::device_attribute(cudaDevAttrClusterLaunch, device))
      dev::func_set_attribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
    it = most.emplace(std::make_pair(device, kernel), bytes).first;
  }
  if (static_cast<int64_t>(p.smem.total) > it->second)
    detail::invalid("persistent LSTM kernel: {} bytes of dynamic shared memory; the device allows {}", p.smem.total,
                    it->second);
}

}  // namespace

PersistentDeviceInfo persistent_device_info(int device) {
  PersistentDeviceInfo info{};
  info.sm_count = dev::device_attribute(cudaDevAttrMultiProcessorCount, device);
  info.registers_per_sm = dev::device_attribute(cudaDevAttrMaxRegistersPerMultiprocessor, device);
  info.max_smem_per_block = dev::device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  info.cooperative_launch = dev::device_attribute(cudaDevAttrCooperativeLaunch, device);
  // The kernels' own static shared memory (the block's abort word) comes out of the same budget.
  info.max_smem_per_block -= dev::func_static_smem(kernel_for_slots<float>(0));
  info.max_cluster_size = 0;
  if (dev::device_attribute(cudaDevAttrClusterLaunch, device)) {
    // The largest cluster the kernel can be launched with when non-portable sizes are allowed.
    const KernelFn kernel = kernel_for_slots<float>(0);
    dev::func_set_attribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
    dev::LaunchShape shape;
    shape.grid = 16;
    shape.block = kThreads;
    info.max_cluster_size = dev::occupancy_potential_cluster_size(kernel, shape);
  }
  return info;
}

bool persistent_launch_fits(const PersistentParams& p, DataType type, int blocks, cudaStream_t stream) {
  const KernelFn kernel = checked_kernel(p, type, blocks, false);
  set_attributes(kernel, p);
  if (!p.cluster) {
    const int device = dev::current_device();
    const int sms = dev::device_attribute(cudaDevAttrMultiProcessorCount, device);
    const int cooperative = dev::device_attribute(cudaDevAttrCooperativeLaunch, device);
    const int per_sm = dev::occupancy_blocks_per_sm(kernel, kThreads, p.smem.total);
    return cooperative && static_cast<int64_t>(per_sm) * sms >= blocks;
  }
  // Clusters never wait on each other: one at a time is enough.
  return dev::occupancy_active_clusters(kernel, launch_shape(p, blocks, stream)) >= 1;
}

void launch_persistent_lstm(const PersistentParams& p, DataType type, int blocks, cudaStream_t stream) {
  const KernelFn kernel = checked_kernel(p, type, blocks, true);
  set_attributes(kernel, p);
  dev::launch("persistent_lstm_kernel", kernel, launch_shape(p, blocks, stream), p);
}

}  // namespace lstmrt::kernels
