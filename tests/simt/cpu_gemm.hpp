// The stepwise path's cuBLASLt GEMMs on the CPU: evaluates a fused::GemmCall (src/fused/gemm_call.hpp,
// the descriptor fused_gemm.cpp hands to cuBLASLt) on host memory with cuBLASLt's semantics —
// column-major layouts with their leading dimensions, strided batches, op(A)/op(B), alpha and
// beta with C = D in place, float32 / float16 / bfloat16 elements, TF32 input rounding for
// GemmCompute::kFloat32FastTF32. Accumulates in double and rounds once to the output type.
// Throws std::invalid_argument for a descriptor cuBLASLt would refuse (shapes that do not chain,
// ld < rows, mismatched batch counts), naming it.
#pragma once

#include "fused/gemm_call.hpp"

namespace lstmrt::simt {

void cpu_gemm(const fused::GemmCall& call, const void* a, const void* b, void* c);

}  // namespace lstmrt::simt
