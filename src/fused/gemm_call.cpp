// The cuBLASLt call of a plan GEMM as plain data (see gemm_call.hpp).
#include "fused/gemm_call.hpp"

#include "fused/fused_params.hpp"

namespace lstmrt::fused {
namespace {

GemmMatrix matrix(DataType type, std::int64_t rows, std::int64_t cols, const MatrixRef& ref, int batch) {
  GemmMatrix m;
  m.type = type;
  m.rows = rows;
  m.cols = cols;
  m.ld = ref.ld;
  m.batch = batch;
  m.batch_stride = batch > 1 ? ref.batch_stride : 0;
  return m;
}

}  // namespace

GemmCall gemm_call(const GemmOp& g, DataType type, MathMode math) {
  GemmCall call;
  call.trans_a = GemmOperation::kT;
  call.trans_b = GemmOperation::kN;
  call.compute =
      type == DataType::kFloat32 && math == MathMode::kTF32 ? GemmCompute::kFloat32FastTF32 : GemmCompute::kFloat32;
  const DataType out_type = buffer_element_bytes(g.out.buffer, type) == 4 ? DataType::kFloat32 : type;
  // Column-major views: weight (depth × cols), act (depth × rows), out (cols × rows).
  call.a = matrix(type, g.depth, g.cols, g.weight, g.batch);
  call.b = matrix(type, g.depth, g.rows, g.act, g.batch);
  call.c = matrix(out_type, g.cols, g.rows, g.out, g.batch);
  call.alpha = 1.0f;
  call.beta = g.accumulate ? 1.0f : 0.0f;
  return call;
}

}  // namespace lstmrt::fused
