// Test helper: a CPU emulation of the persistent LSTM kernels' partitioning and exchange protocol
// (src/fused/persistent_plan.hpp), float32 weights. Per layer and direction every block of the
// plan is a separate state machine holding its own register file (the plan's register_location
// map) and shared memory (the plan's SmemLayout, NaN-poisoned, bounds-checked), computing
// only its units' four gates with the shared cell math (kernels/lstm_cell_math.cuh). Blocks talk
// only through the exchange buffers, with the plan's step tags; a random scheduler interleaves
// them one action at a time, so a missing wait, a wrong slot or a premature overwrite shows up as a
// tag mismatch, a deadlock or a wrong result against the reference backend.
// The protocol is the kernel's (kernels/persistent_lstm.hpp): the sequence runs as launches of
// `chunk_steps` steps with tag_base + c·(chunk_steps + 1) for launch c; a launch stages h from
// h_state and c from c_state, receives h from local step 1 on, and ends by waiting for the last
// exchange before writing its units back to h_state / c_state. Grid exchange buffers live across
// the launches of a forward (stale tags of earlier launches); cluster buffers start afresh.
// The input projection (the tensor-core GEMM on the device) is a plain double-accumulated loop.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/reference_runner.hpp"
#include "fused/fused_weights.hpp"
#include "fused/persistent_plan.hpp"
#include "kernels/cell_math_params.hpp"
#include "kernels/lstm_cell_math.cuh"

namespace lstmrt::test {

struct PersistentEmulationOptions {
  PaddingMode padding = PaddingMode::kZero;
  fused::PersistentVariant variant = fused::PersistentVariant::kGrid;
  fused::DeviceLimits limits = fused::kH200Limits;
  std::uint64_t schedule_seed = 1;
  std::int32_t tag_base = 0;  // exchange buffers start with stale tags of an earlier launch (<= tag_base)
  int chunk_steps = 0;        // steps per launch; 0 = the whole sequence in one launch
};

namespace persistent_detail {

// An exchange buffer as raw bytes, read and written through the plan's offsets.
struct Exchange {
  fused::ExchangeLayout layout;
  std::vector<std::uint8_t> bytes;
  float value(int slot, int row, int unit) const {
    float v;
    std::memcpy(&v, &bytes.at(layout.value_offset(slot, row, unit)), sizeof v);
    return v;
  }
  std::int32_t tag(int slot, int row, int unit, int block) const {
    std::int32_t t;
    std::memcpy(&t, &bytes.at(layout.tag_offset(slot, row, unit, block)), sizeof t);
    return t;
  }
  void put_value(int slot, int row, int unit, float v) {
    std::memcpy(&bytes.at(layout.value_offset(slot, row, unit)), &v, sizeof v);
  }
  void put_tag(int slot, int row, int unit, int block, std::int32_t t) {
    std::memcpy(&bytes.at(layout.tag_offset(slot, row, unit, block)), &t, sizeof t);
  }
};

inline Exchange make_exchange(const fused::ExchangeLayout& layout, std::int32_t tag_base, std::mt19937_64& rng) {
  Exchange x{layout, std::vector<std::uint8_t>(layout.total_bytes, 0)};
  std::uniform_int_distribution<std::int32_t> stale(0, tag_base);
  std::uniform_real_distribution<float> junk(-9.0f, 9.0f);
  for (int s = 0; s < layout.slots; ++s)
    for (int r = 0; r < layout.rows; ++r)
      for (int u = 0; u < layout.width; ++u) {
        x.put_value(s, r, u, junk(rng));
        if (layout.tags == fused::TagGranularity::kPerValue) x.put_tag(s, r, u, 0, stale(rng));
      }
  if (layout.tags == fused::TagGranularity::kPerSlice)
    for (int s = 0; s < layout.slots; ++s)
      for (int b = 0; b < layout.blocks; ++b) x.put_tag(s, 0, 0, b, stale(rng));
  return x;
}

// The input projection (the tensor-core GEMM on the device) of direction slot d:
// gx[(t·N + b)·4H + r] = W_ih[d] row r · x[t][b] (bias added by the blocks).
inline std::vector<float> input_projection(const ModelDesc& m, const fused::PackedLayer& w, int layer, int d,
                                           const std::vector<float>& in_seq, int T, int N) {
  const int H = m.hidden_size, I = m.layer_input_size(layer);
  std::vector<float> gx(static_cast<std::size_t>(T) * N * 4 * H);
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < N; ++b)
      for (int r = 0; r < 4 * H; ++r) {
        double sum = 0.0;
        for (int k = 0; k < I; ++k)
          sum += static_cast<double>(w.w_ih[(static_cast<std::size_t>(d) * 4 * H + r) * I + k]) *
                 in_seq[(static_cast<std::size_t>(t) * N + b) * I + k];
        gx[(static_cast<std::size_t>(t) * N + b) * 4 * H + r] = static_cast<float>(sum);
      }
  return gx;
}

}  // namespace persistent_detail

// One layer, one direction slot d: in_seq (T, N, I_l) time-major → out_seq (T, N, D·H_out)
// time-major (this direction's columns), h_n / c_n rows of this layer and direction.
// One launch: local steps [0, count) = processing steps [first_step, first_step + count), tags
// from tag_base. h_state (N, H_out) and c_state (N, H) of this direction carry the state between
// launches; grid_exchanges (grid variant: h, then m) live across the launches of the forward.
inline void emulate_persistent_launch(const ModelDesc& m, const fused::PersistentPlan& plan,
                                      const fused::PackedLayer& w, int layer, int d, const std::vector<float>& gx,
                                      int T, int N, int first_step, int count, std::int32_t tag_base,
                                      const std::vector<int>& lens, const PersistentEmulationOptions& opt,
                                      std::mt19937_64& rng, std::vector<persistent_detail::Exchange>& grid_hx,
                                      std::vector<persistent_detail::Exchange>& grid_mx,
                                      std::vector<float>& h_state, std::vector<float>& c_state,
                                      std::vector<float>& out_seq, std::vector<float>& h_n, std::vector<float>& c_n) {
  using namespace persistent_detail;
  const int D = m.num_directions(), H = m.hidden_size, Hout = m.output_size(), P = m.proj_size;
  const int U = plan.units_per_block;
  const bool reverse = m.is_reverse_slot(d);
  const bool grid = plan.variant == fused::PersistentVariant::kGrid;
  const kernels::CellMathParams cell = kernels::make_cell_math_params(m, d);
  const std::size_t state = static_cast<std::size_t>(layer * D + d) * N;  // (L·D, N, ·) row base

  // This direction's blocks, their on-chip state, and the exchanges (grid: one per direction;
  // cluster: one per block, in its shared memory, filled by every block of its cluster).
  std::vector<fused::BlockSlice> blocks;
  for (const fused::BlockSlice& s : plan.blocks)
    if (s.direction == d) blocks.push_back(s);
  const int nb = static_cast<int>(blocks.size());
  std::vector<std::vector<float>> regs(nb), smem(nb);
  std::vector<Exchange> local_hx, local_mx;  // cluster: each block's receive buffers, tags zeroed at the start
  if (!grid)
    for (int e = 0; e < nb; ++e) {
      local_hx.push_back(make_exchange(plan.h_exchange, 0, rng));
      if (P > 0) local_mx.push_back(make_exchange(plan.m_exchange, 0, rng));
    }
  std::vector<Exchange>& hx = grid ? grid_hx : local_hx;
  std::vector<Exchange>& mx = grid ? grid_mx : local_mx;
  auto sm = [&](int bi, const fused::SmemRegion& region, std::size_t index) -> float& {
    EXPECT_LT(index * sizeof(float), region.bytes) << "shared region overrun";
    return smem[bi].at(region.offset / sizeof(float) + index);
  };
  const fused::SmemLayout& L = plan.smem;
  for (int bi = 0; bi < nb; ++bi) {
    const fused::BlockSlice& s = blocks[bi];
    const int units = s.unit_last - s.unit_first;
    const int reg_rows = std::min(plan.register_rows, 4 * units);
    regs[bi].assign(static_cast<std::size_t>(plan.threads) * plan.per_thread_elements, poison_value());
    smem[bi].assign(L.total_bytes / sizeof(float), poison_value());
    for (int r = 0; r < 4 * units; ++r)
      for (int k = 0; k < Hout; ++k) {
        const float v = w.w_hh[(static_cast<std::size_t>(d) * 4 * H + fused::global_w_hh_row(s, r, H)) * Hout + k];
        if (r < reg_rows) {
          const fused::RegisterLocation at = fused::register_location(plan, r, k);
          EXPECT_LT(at.element, plan.per_thread_elements);
          EXPECT_TRUE(std::isnan(regs[bi].at(at.thread * plan.per_thread_elements + at.element))) << "register reused";
          regs[bi].at(at.thread * plan.per_thread_elements + at.element) = v;
        } else {
          sm(bi, L.w_hh, (r - reg_rows) * L.w_hh_ld + k) = v;
        }
      }
    for (int p = s.proj_first; p < s.proj_last; ++p)
      for (int k = 0; k < H; ++k)
        sm(bi, L.w_hr, (p - s.proj_first) * L.w_hr_ld + k) = w.w_hr[(static_cast<std::size_t>(d) * P + p) * H + k];
    for (int u = 0; u < units; ++u) {
      for (int g = 0; g < 4; ++g) sm(bi, L.vectors, g * U + u) = w.bias[d * 4 * H + g * H + s.unit_first + u];
      for (int g = 0; g < 3 && m.peepholes; ++g)
        sm(bi, L.vectors, 4 * U + g * U + u) = w.peephole[d * 3 * H + g * H + s.unit_first + u];
    }
  }

  // Publishing into the exchange(s) of the writer's audience: grid = the direction's one buffer;
  // cluster = every block of the writer's cluster (its receive buffer; row index local).
  auto publish = [&](std::vector<Exchange>& xs, int writer, int slot, int row, int unit, float v, std::int32_t tag) {
    const fused::BlockSlice& s = blocks[writer];
    if (grid) {
      xs[0].put_value(slot, row, unit, v);
      xs[0].put_tag(slot, row, unit, 0, tag);
      return;
    }
    for (int bi = 0; bi < nb; ++bi)
      if (blocks[bi].cluster == s.cluster) xs[bi].put_value(slot, row - s.row_first, unit, v);
  };
  auto publish_slice_tag = [&](std::vector<Exchange>& xs, int writer, int slot, std::int32_t tag) {
    if (grid) return;  // per-value tags were written with the values
    for (int bi = 0; bi < nb; ++bi)
      if (blocks[bi].cluster == blocks[writer].cluster) xs[bi].put_tag(slot, 0, 0, blocks[writer].rank, tag);
  };
  // Ready when every value the block needs carries `tag`; a newer tag is a protocol violation.
  auto ready = [&](const std::vector<Exchange>& xs, int bi, int slot, int width, std::int32_t tag) {
    const fused::BlockSlice& s = blocks[bi];
    const Exchange& x = xs[grid ? 0 : bi];
    bool ok = true;
    auto check = [&](std::int32_t got) {
      EXPECT_LE(got, tag) << "exchange entry overwritten before it was read";
      ok = ok && got == tag;
    };
    if (grid) {
      for (int b = s.row_first; b < s.row_last; ++b)
        for (int k = 0; k < width; ++k) check(x.tag(slot, b, k, 0));
    } else {
      for (int r = 0; r < plan.blocks_per_direction; ++r) check(x.tag(slot, 0, 0, r));
    }
    return ok;
  };
  auto gather = [&](const std::vector<Exchange>& xs, int bi, int slot, int width, const fused::SmemRegion& stage) {
    const fused::BlockSlice& s = blocks[bi];
    for (int b = s.row_first; b < s.row_last; ++b)
      for (int k = 0; k < width; ++k)
        sm(bi, stage, (b - s.row_first) * width + k) =
            xs[grid ? 0 : bi].value(slot, grid ? b : b - s.row_first, k);
  };
  auto row_time = [&](int b, int s) { return s < lens[b] ? (reverse ? lens[b] - 1 - s : s) : -1; };
  auto y_at = [&](int t, int b, int j) -> float& {
    return out_seq.at((static_cast<std::size_t>(t) * N + b) * D * Hout + d * Hout + j);
  };
  // Padded position t = s of row b at step s >= len: zeros, or (kCarryLast, forward) the frozen h.
  auto padded_value = [&](int b, float frozen) {
    return opt.padding == PaddingMode::kCarryLast && !reverse && lens[b] > 0 ? frozen : 0.0f;
  };

  // Actions: 0 = init (stage h_state, load c_state), then per local step ls: gate (1 + ls·phases),
  // projection (2 + ls·phases) when P > 0; last: wait for the final exchange, write the state back.
  const int phases = P > 0 ? 2 : 1;
  const int final_action = 1 + count * phases, last_action = final_action + 1;
  std::vector<int> next(nb, 0);
  auto act = [&](int bi) -> bool {
    const fused::BlockSlice& s = blocks[bi];
    const int units = s.unit_last - s.unit_first;
    const int reg_rows = std::min(plan.register_rows, 4 * units);
    const int a = next[bi];
    if (a == 0) {  // every row's h from h_state (written by init or the previous launch), own c
      for (int b = s.row_first; b < s.row_last; ++b) {
        for (int k = 0; k < Hout; ++k) sm(bi, L.h_stage, (b - s.row_first) * Hout + k) = h_state.at(b * Hout + k);
        for (int u = 0; u < units; ++u)
          sm(bi, L.c_state, (b - s.row_first) * U + u) = c_state.at(b * H + s.unit_first + u);
      }
      next[bi] = 1;
      return true;
    }
    if (a == final_action) {  // nobody reads h_state any more once every block published its last h
      if (!ready(hx, bi, fused::step_slot(count), Hout, fused::step_tag(tag_base, count))) return false;
      gather(hx, bi, fused::step_slot(count), Hout, L.h_stage);
      const int first = P > 0 ? s.proj_first : s.unit_first, last = P > 0 ? s.proj_last : s.unit_last;
      for (int b = s.row_first; b < s.row_last; ++b) {
        for (int j = first; j < last; ++j) h_state.at(b * Hout + j) = sm(bi, L.h_stage, (b - s.row_first) * Hout + j);
        for (int u = 0; u < units; ++u)
          c_state.at(b * H + s.unit_first + u) = sm(bi, L.c_state, (b - s.row_first) * U + u);
      }
      next[bi] = last_action;
      return true;
    }
    const int ls = (a - 1) / phases, step = first_step + ls;
    const bool gate_phase = (a - 1) % phases == 0;
    if (gate_phase) {
      if (ls > 0) {
        if (!ready(hx, bi, fused::step_slot(ls), Hout, fused::step_tag(tag_base, ls))) return false;
        gather(hx, bi, fused::step_slot(ls), Hout, L.h_stage);
      }
      for (int b = s.row_first; b < s.row_last; ++b) {
        const int lb = b - s.row_first, t = row_time(b, step);
        for (int r = 0; r < 4 * units; ++r) {  // this block's gate rows: registers, then shared memory
          double sum = 0.0;
          for (int k = 0; k < Hout; ++k) {
            const fused::RegisterLocation at = fused::register_location(plan, r, k);
            const float wv = r < reg_rows ? regs[bi].at(at.thread * plan.per_thread_elements + at.element)
                                          : sm(bi, L.w_hh, (r - reg_rows) * L.w_hh_ld + k);
            sum += static_cast<double>(wv) * sm(bi, L.h_stage, lb * Hout + k);
          }
          sm(bi, L.gates, lb * 4 * U + r / units * U + r % units) = static_cast<float>(sum);
        }
        for (int u = 0; u < units; ++u) {
          const int j = s.unit_first + u;
          float& c = sm(bi, L.c_state, lb * U + u);
          float out;
          if (t >= 0) {
            float z[4];
            for (int g = 0; g < 4; ++g)
              z[g] = gx[(static_cast<std::size_t>(t) * N + b) * 4 * H + g * H + j] + sm(bi, L.gates, lb * 4 * U + g * U + u) +
                     sm(bi, L.vectors, g * U + u);
            const float pi = m.peepholes ? sm(bi, L.vectors, 4 * U + u) : 0.0f;
            const float pf = m.peepholes ? sm(bi, L.vectors, 5 * U + u) : 0.0f;
            const float po = m.peepholes ? sm(bi, L.vectors, 6 * U + u) : 0.0f;
            const kernels::CellResult res = kernels::cell_step(cell, z[0], z[1], z[2], z[3], c, pi, pf, po);
            c = res.c;
            out = res.h;
          } else {
            out = P > 0 ? 0.0f : sm(bi, L.h_stage, lb * Hout + j);  // frozen: republish h (m unused)
          }
          if (P > 0) {
            publish(mx, bi, fused::step_slot(ls), b, j, out, fused::step_tag(tag_base, ls));
          } else {
            publish(hx, bi, fused::step_slot(ls + 1), b, j, out, fused::step_tag(tag_base, ls + 1));
            y_at(t >= 0 ? t : step, b, j) = t >= 0 ? out : padded_value(b, out);
            if (step == T - 1) h_n.at((state + b) * Hout + j) = out;
          }
          if (step == T - 1) c_n.at((state + b) * H + j) = c;
        }
      }
      if (P > 0) publish_slice_tag(mx, bi, fused::step_slot(ls), fused::step_tag(tag_base, ls));
      else publish_slice_tag(hx, bi, fused::step_slot(ls + 1), fused::step_tag(tag_base, ls + 1));
    } else {  // projection: h[p] = W_hr[p] · m over this block's projected units
      if (!ready(mx, bi, fused::step_slot(ls), H, fused::step_tag(tag_base, ls))) return false;
      gather(mx, bi, fused::step_slot(ls), H, L.m_stage);
      for (int b = s.row_first; b < s.row_last; ++b) {
        const int lb = b - s.row_first, t = row_time(b, step);
        for (int p = s.proj_first; p < s.proj_last; ++p) {
          float out = sm(bi, L.h_stage, lb * Hout + p);  // frozen rows keep h
          if (t >= 0) {
            double sum = 0.0;
            for (int k = 0; k < H; ++k)
              sum += static_cast<double>(sm(bi, L.w_hr, (p - s.proj_first) * L.w_hr_ld + k)) * sm(bi, L.m_stage, lb * H + k);
            out = static_cast<float>(sum);
          }
          publish(hx, bi, fused::step_slot(ls + 1), b, p, out, fused::step_tag(tag_base, ls + 1));
          y_at(t >= 0 ? t : step, b, p) = t >= 0 ? out : padded_value(b, out);
          if (step == T - 1) h_n.at((state + b) * Hout + p) = out;
        }
      }
      publish_slice_tag(hx, bi, fused::step_slot(ls + 1), fused::step_tag(tag_base, ls + 1));
    }
    next[bi] = a + 1;
    return true;
  };

  // Random interleaving: try a random block; when none can act, the protocol deadlocked.
  const auto failures = [] { return ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count(); };
  const int failures_before = failures();
  std::vector<int> order(nb);
  for (int i = 0; i < nb; ++i) order[i] = i;
  for (;;) {
    std::shuffle(order.begin(), order.end(), rng);
    bool any_left = false, progressed = false;
    for (int bi : order) {
      if (next[bi] >= last_action) continue;
      any_left = true;
      if (act(bi)) {
        progressed = true;
        break;
      }
    }
    if (!any_left) return;
    if (!progressed || failures() != failures_before) {
      ADD_FAILURE() << "persistent emulation: blocks deadlocked or failed (layer " << layer << " direction " << d << ")";
      return;
    }
  }
}

inline HostOutputs emulate_persistent(const ModelDesc& m, const Weights& w, const HostInputs& in,
                                      const PersistentEmulationOptions& opt = {}) {
  const int T = in.seq_len, N = in.batch, D = m.num_directions(), H = m.hidden_size, Hout = m.output_size();
  std::mt19937_64 rng(opt.schedule_seed);
  std::vector<int> lens(N, T);
  if (in.lengths) lens.assign(in.lengths->begin(), in.lengths->end());
  // Layer 0's input, time-major.
  std::vector<float> seq(static_cast<std::size_t>(T) * N * m.input_size);
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < N; ++b)
      for (int k = 0; k < m.input_size; ++k)
        seq[(static_cast<std::size_t>(t) * N + b) * m.input_size + k] =
            in.x[(in.layout == TensorLayout::kTimeMajor ? static_cast<std::size_t>(t) * N + b
                                                        : static_cast<std::size_t>(b) * T + t) * m.input_size + k];
  HostOutputs out;
  out.h_n = poisoned(h_count(m, N));
  out.c_n = poisoned(c_count(m, N));
  for (int l = 0; l < m.num_layers; ++l) {
    const fused::PersistentPlan plan = fused::make_persistent_plan(m, DataType::kFloat32, N, T, opt.limits, opt.variant);
    EXPECT_TRUE(plan.fits) << plan.reason;
    if (!plan.fits) return out;
    const fused::PackedLayer packed = fused::pack_layer(m, w, l);
    std::vector<float> next_seq = poisoned(static_cast<std::size_t>(T) * N * D * Hout);
    const int chunk = opt.chunk_steps > 0 ? std::min(opt.chunk_steps, T) : T;
    for (int d = 0; d < D; ++d) {
      const std::vector<float> gx = persistent_detail::input_projection(m, packed, l, d, seq, T, N);
      // The state the init kernel leaves: h0 / c0 of this layer and direction, or zeros.
      const std::size_t state = static_cast<std::size_t>(l * D + d) * N;
      std::vector<float> h_state(static_cast<std::size_t>(N) * Hout, 0.0f), c_state(static_cast<std::size_t>(N) * H, 0.0f);
      if (in.h0) std::copy_n(in.h0->begin() + state * Hout, h_state.size(), h_state.begin());
      if (in.c0) std::copy_n(in.c0->begin() + state * H, c_state.size(), c_state.begin());
      // Grid exchanges: one per direction for the whole forward (stale tags <= opt.tag_base).
      std::vector<persistent_detail::Exchange> grid_hx, grid_mx;
      if (opt.variant == fused::PersistentVariant::kGrid) {
        grid_hx.push_back(persistent_detail::make_exchange(plan.h_exchange, opt.tag_base, rng));
        if (m.proj_size > 0) grid_mx.push_back(persistent_detail::make_exchange(plan.m_exchange, opt.tag_base, rng));
      }
      for (int c = 0; c * chunk < T; ++c)
        emulate_persistent_launch(m, plan, packed, l, d, gx, T, N, c * chunk, std::min(chunk, T - c * chunk),
                                  opt.tag_base + c * (chunk + 1), lens, opt, rng, grid_hx, grid_mx, h_state, c_state,
                                  next_seq, out.h_n, out.c_n);
    }
    seq = std::move(next_seq);
  }
  out.y.resize(seq.size());
  const std::size_t width = static_cast<std::size_t>(D) * Hout;
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < N; ++b)
      std::memcpy(&out.y[(in.layout == TensorLayout::kTimeMajor ? static_cast<std::size_t>(t) * N + b
                                                                : static_cast<std::size_t>(b) * T + t) * width],
                  &seq[(static_cast<std::size_t>(t) * N + b) * width], width * sizeof(float));
  return out;
}

}  // namespace lstmrt::test
