// The fused backend's per-layer kernel choice (see fused_choose.hpp).
#include "fused/fused_choose.hpp"

#include <fmt/format.h>

#include "lstmrt/error.hpp"

namespace lstmrt::fused {
namespace {

// How execution_plan names a layer's kernels.
const char* kernel_title(FusedKernel k) {
  switch (k) {
    case FusedKernel::kPersistent: return "persistent grid";
    case FusedKernel::kCluster: return "persistent cluster";
    default: return "stepwise";
  }
}

LayerChoice persistent_choice(const VariantCandidate& c, std::string note) {
  LayerChoice choice;
  choice.kernel = c.plan.variant;
  choice.note = std::move(note);
  choice.persistent = c.plan;
  return choice;
}

LayerChoice stepwise_choice(std::string note) {
  LayerChoice choice;
  choice.note = std::move(note);
  return choice;
}

}  // namespace

VariantCandidate variant_candidate(const ModelDesc& desc, DataType type, int seq_len, int batch,
                                   const DeviceFacts& facts, FusedKernel variant) {
  VariantCandidate c;
  if (!facts.refusal.empty()) {
    c.plan.reason = facts.refusal;
    return c;
  }
  c.plan = make_persistent_plan(desc, type, batch, seq_len, facts.limits, variant);
  if (!c.plan.fits) return c;
  if (variant == FusedKernel::kPersistent && !facts.cooperative_launch) {
    c.refusal = "the device has no cooperative launches";
    return c;
  }
  try {
    c.co_resident = facts.co_resident && facts.co_resident(c.plan);
  } catch (const Error& e) {
    c.refusal = std::string("the co-residency query failed: ") + e.what();
  }
  return c;
}

std::string VariantCandidate::why_not() const {
  if (!plan.fits) return plan.reason;
  if (!refusal.empty()) return refusal;
  if (!co_resident)
    return fmt::format("its {} blocks of {} bytes of shared memory cannot be co-resident on the device",
                       plan.total_blocks(), plan.smem.total_bytes);
  return {};
}

LayerChoice auto_layer_choice(DataType type, int hidden, int batch, int sm_count, const VariantCandidate& grid,
                              const VariantCandidate& cluster) {
  if (type == DataType::kFloat16) return stepwise_choice("auto: float16 data");
  std::string cluster_no;
  if (!cluster.usable())
    cluster_no = cluster.why_not();
  else if (cluster.plan.total_blocks() > sm_count)
    cluster_no = fmt::format("{} blocks exceed the {} SMs", cluster.plan.total_blocks(), sm_count);
  else if (hidden > kAutoClusterMaxHidden)
    cluster_no = fmt::format("H={} > {}", hidden, kAutoClusterMaxHidden);
  if (cluster_no.empty()) return persistent_choice(cluster, "auto");
  std::string grid_no;
  if (!grid.usable())
    grid_no = grid.why_not();
  else if (batch > kAutoGridMaxBatch)
    grid_no = fmt::format("N={} > {}", batch, kAutoGridMaxBatch);
  if (grid_no.empty()) return persistent_choice(grid, "auto");
  return stepwise_choice(fmt::format("auto: cluster: {}; grid: {}", cluster_no, grid_no));
}

LayerChoice choose_layer_kernel(FusedKernel requested, bool measured, DataType type, int hidden, int batch,
                                int sm_count, const VariantCandidate& grid, const VariantCandidate& cluster) {
  switch (requested) {
    case FusedKernel::kStepwise: return stepwise_choice(measured ? "measured fastest" : "");
    case FusedKernel::kAuto: return auto_layer_choice(type, hidden, batch, sm_count, grid, cluster);
    case FusedKernel::kPersistent:
    case FusedKernel::kCluster: {
      const bool want_cluster = requested == FusedKernel::kCluster;
      const VariantCandidate& c = want_cluster ? cluster : grid;
      const char* name = want_cluster ? "cluster" : "persistent";
      if (type == DataType::kFloat16)
        return stepwise_choice(
            fmt::format("{} requested: float16 data: the persistent kernels take float32 or "
                        "bfloat16",
                        name));
      if (!c.usable()) return stepwise_choice(fmt::format("{} requested: {}", name, c.why_not()));
      return persistent_choice(c, measured ? "measured fastest" : "");
    }
  }
  return stepwise_choice("");
}

LayerChoice masked_layer_choice(const LayerChoice& unmasked) {
  if (!is_persistent(unmasked.kernel)) return unmasked;
  return stepwise_choice(fmt::format("a per-step mask: the persistent kernels take none ({} otherwise{})",
                                     kernel_title(unmasked.kernel), unmasked.note.empty() ? "" : ", " + unmasked.note));
}

std::vector<LayerChoice> choose(const ModelDesc& desc, DataType type, const PlanKey& key, const KernelRequest& request,
                                const DeviceFacts& facts) {
  LayerChoice choice;
  if (request.kernel != FusedKernel::kStepwise) {
    const VariantCandidate grid =
        variant_candidate(desc, type, key.seq_len, key.batch, facts, FusedKernel::kPersistent);
    const VariantCandidate cluster =
        variant_candidate(desc, type, key.seq_len, key.batch, facts, FusedKernel::kCluster);
    choice = choose_layer_kernel(request.kernel, request.measured, type, desc.hidden_size, key.batch,
                                 facts.limits.sm_count, grid, cluster);
  } else if (request.measured) {
    choice.note = "measured fastest";
  }
  if (key.has_mask) choice = masked_layer_choice(choice);
  return std::vector<LayerChoice>(desc.num_layers, choice);
}

std::string describe_layer(int layer, const LayerChoice& choice, int directions) {
  std::string line = fmt::format("layer {}: {}", layer, kernel_title(choice.kernel));
  if (is_persistent(choice.kernel)) {
    const PersistentPlan& p = choice.persistent;
    if (choice.kernel == FusedKernel::kCluster)
      line += fmt::format(", {} cluster{} of {} blocks × {} units ({} rows each)", p.clusters_per_direction,
                          p.clusters_per_direction == 1 ? "" : "s", p.blocks_per_direction, p.units_per_block,
                          p.rows_per_cluster);
    else
      line += fmt::format(", {} blocks × {} units", p.blocks_per_direction, p.units_per_block);
    line += fmt::format(", {} register rows + {} shared-memory rows", p.register_rows,
                        4 * p.units_per_block - p.register_rows);
    if (p.proj > 0) line += fmt::format(", {} projected units per block", p.proj_per_block);
    line += fmt::format(", {} direction{}", directions, directions == 1 ? "" : "s");
  }
  if (!choice.note.empty()) line += " (" + choice.note + ")";
  return line;
}

}  // namespace lstmrt::fused
