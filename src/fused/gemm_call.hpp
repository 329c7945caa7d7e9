// The cuBLASLt call a plan GemmOp (fused_plan.hpp) becomes, as plain data: operations, compute
// type, the three matrix layouts (column-major, cuBLASLt's terms) and alpha / beta. fused_gemm.cpp
// translates it one for one into cuBLASLt descriptors; the CPU SIMT tests (tests/simt/cpu_gemm.hpp)
// evaluate the same descriptor on the host, so a wrong layout, leading dimension, batch stride or
// beta shows up without a GPU.
//
// D = alpha · op(A) · op(B) + beta · C with C = D (in place), per batch entry b:
//   A = weight  (depth × cols, ld = weight.ld), op T  → op(A) is cols × depth   (m = cols)
//   B = act     (depth × rows, ld = act.ld),    op N  → op(B) is depth × rows   (k = depth, n = rows)
//   C = D = out (cols × rows,  ld = out.ld)     in the output's element type
// Element (r, c) of a column-major matrix with leading dimension ld is at r + c·ld (+ b·batch_stride).
#pragma once

#include <cstdint>

#include "fused/fused_plan.hpp"

namespace lstmrt::fused {

enum class GemmOperation { kN, kT };
enum class GemmCompute { kFloat32, kFloat32FastTF32 };

struct GemmMatrix {
  DataType type = DataType::kFloat32;
  std::int64_t rows = 0, cols = 0, ld = 0;
  int batch = 1;
  std::int64_t batch_stride = 0;  // elements; set only when batch > 1
};

struct GemmCall {
  GemmOperation trans_a = GemmOperation::kT, trans_b = GemmOperation::kN;
  GemmCompute compute = GemmCompute::kFloat32;  // accumulation and scale type float32
  GemmMatrix a, b, c;                           // c describes C and D
  float alpha = 1.0f, beta = 0.0f;
};

// The call for `op` with `type` operands (the output is float32 for float32 buffers such as
// gates, else `type`).
GemmCall gemm_call(const GemmOp& op, DataType type, MathMode math);

}  // namespace lstmrt::fused
