// The fused backend's per-layer kernel choice (dispatch between the stepwise path and the
// persistent variants): pure host logic, CPU-tested (tests/cpu/test_kernel_choice.cpp).
// The backend (fused_backend.cpp) supplies the candidates: make_persistent_plan's plan for each
// variant on this device's limits, and whether kernels::persistent_launch_fits says its blocks can
// be co-resident.
//
// BackendOptions::fused_kernel:
//   kStepwise    every layer stepwise.
//   kPersistent  the grid variant where it is usable (plan fits, blocks co-resident), else stepwise
//                with the reason recorded (execution_plan prints it).
//   kCluster     the cluster variant likewise.
//   kAuto        the variant Lstm::reserve(T, N) measured fastest for this (T, N) (a forward of each
//                usable variant timed on the device; then as if that variant was requested), else
//                the rule: float16 → stepwise; the cluster variant if usable, every cluster
//                resident at once (total blocks <= SMs) and H <= kAutoClusterMaxHidden; else the
//                grid variant if usable and N <= kAutoGridMaxBatch; else stepwise. (Persistent wins
//                at small batch, where a step is a matrix-vector product bound by re-reading W_hh;
//                at larger N the tensor-core recurrent GEMM catches up.)
// A layer that runs stepwise is always correct: the choice only trades speed.
#pragma once

#include <string>

#include "fused/fused_plan.hpp"
#include "fused/persistent_plan.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt::fused {

constexpr int kAutoClusterMaxHidden = 512;
constexpr int kAutoGridMaxBatch = 32;

// One persistent variant for one layer and request shape.
struct VariantCandidate {
  PersistentPlan plan;       // make_persistent_plan's answer
  bool co_resident = false;  // kernels::persistent_launch_fits (only asked when plan.fits)
  std::string refusal;       // why the device cannot run it at all (no cooperative launch, a failed query)
  bool usable() const { return plan.fits && co_resident && refusal.empty(); }
  std::string why_not() const;  // the plan's reason, the refusal, or that the blocks cannot be co-resident
};

struct LayerChoice {
  LayerKernel kernel = LayerKernel::kStepwise;
  std::string note;           // why this kernel (a persistent request's fallback reason, "auto", ...)
  PersistentPlan persistent;  // the chosen variant's plan (persistent kernels only)
};

// The built-in rule for kAuto without a measurement.
LayerChoice auto_layer_choice(DataType type, int hidden, int batch, int sm_count, const VariantCandidate& grid,
                              const VariantCandidate& cluster);

// `requested`: the option, or for kAuto the measured variant when there is one (`measured` true).
LayerChoice choose_layer_kernel(FusedKernel requested, bool measured, DataType type, int hidden, int batch,
                                int sm_count, const VariantCandidate& grid, const VariantCandidate& cluster);

// A masked request's choice: the persistent kernels take no per-step mask, so a persistent
// `unmasked` choice becomes stepwise with the reason (and what would have run) as its note.
LayerChoice masked_layer_choice(const LayerChoice& unmasked);

// One line of Lstm::execution_plan, e.g. "layer 0: persistent grid, 128 blocks × 8 units, 32
// register rows + 0 shared-memory rows, 2 directions" or "layer 1: stepwise (persistent requested:
// <reason>)".
std::string describe_layer(int layer, const LayerChoice& choice, int directions);

}  // namespace lstmrt::fused
