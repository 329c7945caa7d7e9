// The fused backend's GEMMs through cuBLASLt: a bound GEMM's GemmCall (gemm_call.hpp: the plan's
// row-major GemmOp as out^T = weight · act^T in cuBLASLt's column-major terms, made by bind)
// translated one for one into cuBLASLt descriptors, float32 accumulation, tensor cores for
// float16 / bfloat16 / TF32; beta = 1 adds to `out` in place (C = D).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>

#include "fused/gemm_call.hpp"

typedef struct cublasLtContext* cublasLtHandle_t;

namespace lstmrt::fused {

class GemmRunner {
 public:
  GemmRunner();
  ~GemmRunner();
  GemmRunner(const GemmRunner&) = delete;
  GemmRunner& operator=(const GemmRunner&) = delete;

  // Descriptors and the heuristic's algorithm for `op` at these operand alignments, created on
  // first use and cached (host work only: no device allocation, no synchronisation). Call it
  // from reserve/plan time so forward only looks it up.
  void prepare(const GemmCall& call, const void* act, const void* weight, void* out);
  // Enqueues the GEMM on `stream` (prepares first if needed). workspace: this stream's cuBLASLt
  // scratch (kCublasWorkspaceBytes).
  void run(const GemmCall& call, const void* act, const void* weight, void* out, void* workspace, cudaStream_t stream);

 private:
  struct Entry;
  using Key = std::array<std::int64_t, 21>;
  Entry& entry(const GemmCall& call, const void* act, const void* weight, void* out);

  cublasLtHandle_t handle_ = nullptr;
  std::map<Key, Entry*> cache_;
};

// Alignment in bytes (1 .. 256) that an address and a set of element strides share: what cuBLASLt
// may assume about every row of a matrix.
std::size_t common_alignment(const void* address, std::size_t element_bytes, std::int64_t ld,
                             std::int64_t batch_stride);

}  // namespace lstmrt::fused
