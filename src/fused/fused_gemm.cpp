// cuBLASLt glue for the fused backend's GEMMs (see fused_gemm.hpp).
#include "fused/fused_gemm.hpp"

#include <cuda_runtime_api.h>

#include "fused/cublas_check.hpp"
#include "fused/fused_params.hpp"

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
  }
  return CUDA_R_32F;
}

cublasLtMatrixLayout_t make_layout(cudaDataType_t type, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                                   int batch, std::int64_t batch_stride) {
  cublasLtMatrixLayout_t layout = nullptr;
  LSTMRT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, type, rows, cols, ld));
  if (batch > 1) {
    const std::int32_t count = batch;
    LSTMRT_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
    LSTMRT_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                         &batch_stride, sizeof(batch_stride)));
  }
  return layout;
}

}  // namespace

std::size_t common_alignment(const void* address, std::size_t element_bytes, std::int64_t ld, std::int64_t batch_stride) {
  std::uint64_t bits = reinterpret_cast<std::uintptr_t>(address) | 256u;
  bits |= static_cast<std::uint64_t>(ld) * element_bytes;
  if (batch_stride) bits |= static_cast<std::uint64_t>(batch_stride) * element_bytes;
  return static_cast<std::size_t>(bits & (~bits + 1));  // lowest set bit
}

GemmRunner::GemmRunner(DataType type, MathMode math) : type_(type), math_(math) {
  LSTMRT_CUBLAS_CHECK(cublasLtCreate(&handle_));
}

GemmRunner::~GemmRunner() {
  for (auto& [key, e] : cache_) delete e;
  if (handle_) cublasLtDestroy(handle_);
}

GemmRunner::Entry& GemmRunner::entry(const GemmOp& g, const void* act, const void* weight, void* out) {
  const std::size_t es = element_bytes(type_), out_es = buffer_element_bytes(g.out.buffer, type_);
  const Key key{static_cast<std::int64_t>(out_es), g.rows, g.cols, g.depth, g.batch, g.act.ld, g.act.batch_stride,
                g.weight.ld, g.weight.batch_stride, g.out.ld, g.out.batch_stride,
                static_cast<std::int64_t>(common_alignment(act, es, g.act.ld, g.act.batch_stride)),
                static_cast<std::int64_t>(common_alignment(weight, es, g.weight.ld, g.weight.batch_stride)),
                static_cast<std::int64_t>(common_alignment(out, out_es, g.out.ld, g.out.batch_stride)), 0};
  if (auto it = cache_.find(key); it != cache_.end()) return *it->second;

  auto e = std::make_unique<Entry>();
  const cublasComputeType_t compute = type_ == DataType::kFloat32 && math_ == MathMode::kTF32
                                          ? CUBLAS_COMPUTE_32F_FAST_TF32
                                          : CUBLAS_COMPUTE_32F;
  LSTMRT_CUBLAS_CHECK(cublasLtMatmulDescCreate(&e->op, compute, CUDA_R_32F));
  const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  LSTMRT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof(trans_a)));
  LSTMRT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof(trans_b)));
  const cudaDataType_t in_type = cuda_type(type_), out_type = out_es == 4 ? CUDA_R_32F : in_type;
  // Column-major views: weight (depth × cols), act (depth × rows), out (cols × rows).
  e->a = make_layout(in_type, g.depth, g.cols, g.weight.ld, g.batch, g.weight.batch_stride);
  e->b = make_layout(in_type, g.depth, g.rows, g.act.ld, g.batch, g.act.batch_stride);
  e->c = make_layout(out_type, g.cols, g.rows, g.out.ld, g.batch, g.out.batch_stride);

  cublasLtMatmulPreference_t pref = nullptr;
  LSTMRT_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
  {
    const std::uint64_t ws = kCublasWorkspaceBytes;
    const std::uint32_t align_a = static_cast<std::uint32_t>(key[12]), align_b = static_cast<std::uint32_t>(key[11]),
                        align_c = static_cast<std::uint32_t>(key[13]);
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
    detail::unsupported("backend fused: cuBLASLt has no algorithm for the {} GEMM rows={} cols={} depth={} batch={}",
                        to_string(g.role), g.rows, g.cols, g.depth, g.batch);
  e->algo = result.algo;
  Entry* raw = e.release();
  cache_.emplace(key, raw);
  return *raw;
}

void GemmRunner::prepare(const GemmOp& op, const void* act, const void* weight, void* out) { entry(op, act, weight, out); }

void GemmRunner::run(const GemmOp& g, const void* act, const void* weight, void* out, void* workspace,
                     cudaStream_t stream) {
  Entry& e = entry(g, act, weight, out);
  const float alpha = 1.0f, beta = g.accumulate ? 1.0f : 0.0f;
  LSTMRT_CUBLAS_CHECK(cublasLtMatmul(handle_, e.op, &alpha, weight, e.a, act, e.b, &beta, out, e.c, out, e.c, &e.algo,
                                     workspace, kCublasWorkspaceBytes, stream));
}

}  // namespace lstmrt::fused
