// From a kPersistent op of the fused plan, the layer's persistent plan (persistent_plan.hpp) and the
// call's buffer addresses to the persistent kernel's by-value parameters (kernels/persistent_lstm.hpp).
// Pure host arithmetic, CPU-tested (tests/cpu/test_persistent_params.cpp).
//
// The embedded GateStepParams g is gate_step_params' answer for the chunk's gate ops (gates_x
// addressing, outputs, h_n / c_n, lengths, cell math identical to the stepwise kernel), with
// g.step = the launch's first processing step. Shared memory offsets are the plan's SmemLayout;
// cluster mode receives h in smem.exchange (values then per-slice tags, ExchangeLayout kPerSlice)
// and m right after h's tags (where kernels/persistent_lstm.cu looks for it). Grid mode exchanges through the
// workspace's persistent region: direction d's h at h_exchange + d·h_exchange_bytes, m likewise. The step tags of chunk
// c start above c·(chunk_steps + 1): every launch of a forward awaits tags no earlier launch wrote, and the buffers
// (zeroed by kClearPersistent) never match.
#pragma once

#include <array>
#include <cstdint>

#include "fused/fused_params.hpp"
#include "fused/fused_plan.hpp"
#include "fused/persistent_plan.hpp"
#include "kernels/persistent_lstm.hpp"

namespace lstmrt::fused {

// tag_base of chunk `chunk`'s launch (> every tag an earlier chunk's launch publishes: a launch
// of k steps publishes tags up to tag_base + k + 1).
std::int32_t persistent_tag_base(const FusedPlan& plan, int chunk);

// The parameters that follow from the persistent plan alone (sizes, partition, register map,
// shared-memory layout, exchange sizes, default timeout, no debug stall): enough for the
// co-residency query (kernels::persistent_launch_fits) before any buffer exists. No addresses.
kernels::PersistentParams persistent_shape_params(const PersistentPlan& persistent);

// Parameters of kPersistent op `op` of `plan`, layer op.layer run by `persistent` (its fitting
// plan for the request's batch). `status`: the host-mapped report (may be null); the abort word is
// buffers.persistent_abort. Throws kInvalidArgument for a plan that does not fit or float16 data,
// kInternal when the op, plan and buffers disagree (wrong op kind or variant, shapes, exchange
// regions too small).
kernels::PersistentParams persistent_params(const ModelDesc& desc, const FusedPlan& plan, const Op& op,
                                            const PersistentPlan& persistent, const CallBuffers& buffers,
                                            const std::array<kernels::CellMathParams, 2>& cell, DataType type,
                                            kernels::PersistentStatus* status);

}  // namespace lstmrt::fused
