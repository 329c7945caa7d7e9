// The fused backend's GEMMs through cuBLASLt: a plan GemmOp (row-major, fused_plan.hpp) becomes
// out^T = weight · act^T in cuBLASLt's column-major terms (transa = T, transb = N), float32
// accumulation, tensor cores for float16 / bfloat16 / TF32; GemmOp::accumulate adds to `out`
// in place (beta = 1, C = D).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>

#include "fused/fused_plan.hpp"

typedef struct cublasLtContext* cublasLtHandle_t;

namespace lstmrt::fused {

class GemmRunner {
 public:
  GemmRunner(DataType type, MathMode math);
  ~GemmRunner();
  GemmRunner(const GemmRunner&) = delete;
  GemmRunner& operator=(const GemmRunner&) = delete;

  // Descriptors and the heuristic's algorithm for `op` at these operand alignments, created on
  // first use and cached (host work only: no device allocation, no synchronisation). Call it
  // from reserve/plan time so forward only looks it up.
  void prepare(const GemmOp& op, const void* act, const void* weight, void* out);
  // Enqueues the GEMM on `stream` (prepares first if needed). workspace: this stream's cuBLASLt
  // scratch (kCublasWorkspaceBytes).
  void run(const GemmOp& op, const void* act, const void* weight, void* out, void* workspace, cudaStream_t stream);

 private:
  struct Entry;
  using Key = std::array<std::int64_t, 15>;
  Entry& entry(const GemmOp& op, const void* act, const void* weight, void* out);

  DataType type_;
  MathMode math_;
  cublasLtHandle_t handle_ = nullptr;
  std::map<Key, Entry*> cache_;
};

// Alignment in bytes (1 .. 256) that an address and a set of element strides share: what cuBLASLt
// may assume about every row of a matrix.
std::size_t common_alignment(const void* address, std::size_t element_bytes, std::int64_t ld, std::int64_t batch_stride);

}  // namespace lstmrt::fused
