// cuBLASLt glue for the fused backend's GEMMs (see fused_gemm.hpp).
#include "fused/fused_gemm.hpp"

#include <cuda_runtime_api.h>

#include "common/check.hpp"
#include "common/elements.hpp"
#include "fused/cublas_check.hpp"

namespace lstmrt::fused {

struct GemmRunner::Entry {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  ~Entry() {
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

namespace {

cudaDataType_t cuda_type(DataType t) {
  switch (t) {
    case DataType::kFloat32: return CUDA_R_32F;
    case DataType::kFloat16: return CUDA_R_16F;
    case DataType::kBFloat16: return CUDA_R_16BF;
    default: break;  // not a storage type
  }
  return CUDA_R_32F;
}

cublasOperation_t cublas_op(GemmOperation op) { return op == GemmOperation::kT ? CUBLAS_OP_T : CUBLAS_OP_N; }

cublasLtMatrixLayout_t make_layout(const GemmMatrix& m) {
  cublasLtMatrixLayout_t layout = nullptr;
  LSTMRT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, cuda_type(m.type), m.rows, m.cols, m.ld));
  if (m.batch > 1) {
    const std::int32_t count = m.batch;
    LSTMRT_CUBLAS_CHECK(
        cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
    LSTMRT_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                         &m.batch_stride, sizeof(m.batch_stride)));
  }
  return layout;
}

}  // namespace

std::size_t common_alignment(const void* address, std::size_t element_bytes, std::int64_t ld,
                             std::int64_t batch_stride) {
  std::uint64_t bits = reinterpret_cast<std::uintptr_t>(address) | 256u;
  bits |= static_cast<std::uint64_t>(ld) * element_bytes;
  if (batch_stride) bits |= static_cast<std::uint64_t>(batch_stride) * element_bytes;
  return static_cast<std::size_t>(bits & (~bits + 1));  // lowest set bit
}

GemmRunner::GemmRunner() { LSTMRT_CUBLAS_CHECK(cublasLtCreate(&handle_)); }

GemmRunner::~GemmRunner() {
  for (auto& [key, e] : cache_) delete e;
  if (handle_) cublasLtDestroy(handle_);
}

GemmRunner::Entry& GemmRunner::entry(const GemmCall& call, const void* act, const void* weight, void* out) {
  // A = weight, B = act, C = D = out (gemm_call.hpp).
  auto alignment = [](const void* p, const GemmMatrix& m) {
    return static_cast<std::int64_t>(common_alignment(p, detail::element_bytes(m.type), m.ld, m.batch_stride));
  };
  const Key key{static_cast<std::int64_t>(call.trans_a),
                static_cast<std::int64_t>(call.trans_b),
                static_cast<std::int64_t>(call.compute),
                static_cast<std::int64_t>(call.a.type),
                static_cast<std::int64_t>(call.c.type),
                call.a.rows,
                call.a.cols,
                call.a.ld,
                call.b.rows,
                call.b.cols,
                call.b.ld,
                call.c.rows,
                call.c.cols,
                call.c.ld,
                call.a.batch,
                call.a.batch_stride,
                call.b.batch_stride,
                call.c.batch_stride,
                alignment(weight, call.a),
                alignment(act, call.b),
                alignment(out, call.c)};
  if (auto it = cache_.find(key); it != cache_.end()) return *it->second;

  auto e = std::make_unique<Entry>();
  const cublasComputeType_t compute =
      call.compute == GemmCompute::kFloat32FastTF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  LSTMRT_CUBLAS_CHECK(cublasLtMatmulDescCreate(&e->op, compute, CUDA_R_32F));
  const cublasOperation_t trans_a = cublas_op(call.trans_a), trans_b = cublas_op(call.trans_b);
  LSTMRT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof(trans_a)));
  LSTMRT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof(trans_b)));
  e->a = make_layout(call.a);
  e->b = make_layout(call.b);
  e->c = make_layout(call.c);

  cublasLtMatmulPreference_t pref = nullptr;
  LSTMRT_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
  {
    const std::uint64_t ws = kCublasWorkspaceBytes;
    const std::uint32_t align_a = static_cast<std::uint32_t>(key[18]), align_b = static_cast<std::uint32_t>(key[19]),
                        align_c = static_cast<std::uint32_t>(key[20]);
    status = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
    if (status == CUBLAS_STATUS_SUCCESS)
      status = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, 4);
    if (status == CUBLAS_STATUS_SUCCESS)
      status = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, 4);
    if (status == CUBLAS_STATUS_SUCCESS)
      status = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c, 4);
    if (status == CUBLAS_STATUS_SUCCESS)
      status = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c, 4);
    if (status == CUBLAS_STATUS_SUCCESS)
      status = cublasLtMatmulAlgoGetHeuristic(handle_, e->op, e->a, e->b, e->c, e->c, pref, 1, &result, &found);
  }
  cublasLtMatmulPreferenceDestroy(pref);
  LSTMRT_CUBLAS_CHECK(status);
  if (found < 1)
    detail::unsupported("backend fused: cuBLASLt has no algorithm for a GEMM m={} n={} k={} batch={} ({} operands)",
                        call.c.rows, call.c.cols, call.a.rows, call.a.batch, to_string(call.a.type));
  e->algo = result.algo;
  Entry* raw = e.release();
  cache_.emplace(key, raw);
  return *raw;
}

void GemmRunner::prepare(const GemmCall& call, const void* act, const void* weight, void* out) {
  entry(call, act, weight, out);
}

void GemmRunner::run(const GemmCall& call, const void* act, const void* weight, void* out, void* workspace,
                     cudaStream_t stream) {
  Entry& e = entry(call, act, weight, out);
  const float alpha = call.alpha, beta = call.beta;
  LSTMRT_CUBLAS_CHECK(cublasLtMatmul(handle_, e.op, &alpha, weight, e.a, act, e.b, &beta, out, e.c, out, e.c, &e.algo,
                                     workspace, kCublasWorkspaceBytes, stream));
}

}  // namespace lstmrt::fused
