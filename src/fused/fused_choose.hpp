// Choose, the first step of the fused backend's pipeline (choose → plan → bind → execute): which
// kernels run each layer of one request shape. Pure host logic given the device's facts,
// CPU-tested (tests/cpu/test_fused_choose.cpp) with facts a test makes up; the backend queries the
// real ones once (query_device_facts, fused_device.cpp).
//
// A persistent variant is a candidate when make_persistent_plan fits it on the device's limits and
// the device can hold its blocks at once (DeviceFacts::co_resident: the kernels' occupancy query;
// grid: every block, cluster: one cluster at least).
//
// The requested FusedKernel (BackendOptions::fused_kernel, or for kAuto the variant reserve(T, N)
// measured fastest):
//   kStepwise    every layer stepwise.
//   kPersistent  the grid variant where it is usable, else stepwise with the reason recorded
//                (execution_plan prints it).
//   kCluster     the cluster variant likewise.
//   kAuto        without a measurement, the rule: float16 → stepwise; the cluster variant if usable,
//                every cluster resident at once (total blocks <= SMs) and H <= kAutoClusterMaxHidden;
//                else the grid variant if usable and N <= kAutoGridMaxBatch; else stepwise.
//                (Persistent wins at small batch, where a step is a matrix-vector product bound by
//                re-reading W_hh; at larger N the tensor-core recurrent GEMM catches up.)
// A masked request runs stepwise (the persistent kernels take no per-step mask), naming what would
// have run. A layer that runs stepwise is always correct: the choice only trades speed.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "fused/fused_plan.hpp"
#include "fused/persistent_plan.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt::fused {

constexpr int kAutoClusterMaxHidden = 512;
constexpr int kAutoGridMaxBatch = 32;

// What choose needs to know about the device.
struct DeviceFacts {
  DeviceLimits limits;
  bool cooperative_launch = false;
  std::string refusal;  // why the persistent kernels cannot run at all (a failed device query)
  // Whether the blocks of a fitting plan can be resident together. May throw lstmrt::Error (a
  // failed query: the variant is then refused naming it). Null: nothing is co-resident.
  std::function<bool(const PersistentPlan&)> co_resident;
};
// The facts of CUDA device `device` for `type` data (the kernels' device and occupancy queries; a
// failed query is recorded in `refusal`, not thrown). Sets the kernels' shared-memory attributes.
DeviceFacts query_device_facts(int device, DataType type);

// The kernel variant a request asks for: the option, or for kAuto the measured fastest.
struct KernelRequest {
  FusedKernel kernel = FusedKernel::kAuto;
  bool measured = false;  // `kernel` is reserve()'s measurement for this shape
};

// One persistent variant (kPersistent or kCluster) for one layer and request shape.
struct VariantCandidate {
  PersistentPlan plan;       // make_persistent_plan's answer
  bool co_resident = false;  // DeviceFacts::co_resident (only asked when plan.fits)
  std::string refusal;       // why the device cannot run it at all (no cooperative launch, a failed query)
  bool usable() const { return plan.fits && co_resident && refusal.empty(); }
  std::string why_not() const;  // the plan's reason, the refusal, or that the blocks cannot be co-resident
};
VariantCandidate variant_candidate(const ModelDesc& desc, DataType type, int seq_len, int batch,
                                   const DeviceFacts& facts, FusedKernel variant);

// The built-in rule for kAuto without a measurement.
LayerChoice auto_layer_choice(DataType type, int hidden, int batch, int sm_count, const VariantCandidate& grid,
                              const VariantCandidate& cluster);
// `requested`: the option, or for kAuto the measured variant when there is one (`measured` true).
LayerChoice choose_layer_kernel(FusedKernel requested, bool measured, DataType type, int hidden, int batch,
                                int sm_count, const VariantCandidate& grid, const VariantCandidate& cluster);
// A masked request's choice: a persistent `unmasked` choice becomes stepwise with the reason (and
// what would have run) as its note.
LayerChoice masked_layer_choice(const LayerChoice& unmasked);

// The choice for every layer of `desc` for requests with `key` (every layer has the same recurrent
// shape — W_hh is (4H, H_out) whatever the layer's input — so one choice serves all layers).
std::vector<LayerChoice> choose(const ModelDesc& desc, DataType type, const PlanKey& key, const KernelRequest& request,
                                const DeviceFacts& facts);

// One line of Lstm::execution_plan, e.g. "layer 0: persistent grid, 128 blocks × 8 units, 32
// register rows + 0 shared-memory rows, 2 directions" or "layer 1: stepwise (persistent requested:
// <reason>)".
std::string describe_layer(int layer, const LayerChoice& choice, int directions);

}  // namespace lstmrt::fused
