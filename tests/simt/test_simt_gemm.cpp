// The stepwise path's GEMMs on the CPU: fused::gemm_call (the cuBLASLt descriptor fused_gemm.cpp
// builds) evaluated by cpu_gemm with cuBLASLt's column-major semantics must equal the plan's own
// row-major definition (fused_plan.hpp: out[b] = act[b] · weight[b]^T, beta = 1 when accumulating)
// on random shapes, leading dimensions, batch strides and element types; and a descriptor that is
// wrong in any field (an operation, a leading dimension, a batch stride, beta) gives a different
// result or is refused, so the fused plan suites would notice it.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "common/compare.hpp"
#include "fused/fused_weights.hpp"
#include "fused/gemm_call.hpp"
#include "simt/cpu_gemm.hpp"
#include "simt/fused_driver.hpp"

namespace lstmrt::simt {
namespace {

struct Problem {
  fused::GemmOp op;
  std::vector<float> act, weight, out;  // float32 values (the storage rounding is applied by the caller)
};

Problem random_problem(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Problem p;
  fused::GemmOp& g = p.op;
  g.rows = pick(1, 7), g.cols = pick(1, 9), g.depth = pick(1, 6), g.batch = pick(1, 3);
  g.act.ld = g.depth + pick(0, 3);
  g.weight.ld = g.depth + pick(0, 2);
  g.out.ld = g.cols + pick(0, 3);
  g.out.buffer = pick(0, 1) ? fused::BufferKind::kGatesX : fused::BufferKind::kHState;  // float32 or storage output
  if (g.batch > 1) {
    g.act.batch_stride = static_cast<std::int64_t>(g.rows) * g.act.ld + pick(0, 5);
    g.weight.batch_stride = static_cast<std::int64_t>(g.cols) * g.weight.ld + pick(0, 5);
    g.out.batch_stride = static_cast<std::int64_t>(g.rows) * g.out.ld + pick(0, 5);
  }
  g.accumulate = pick(0, 1);
  auto size = [&](const fused::MatrixRef& m, int rows) { return (g.batch - 1) * m.batch_stride + rows * m.ld; };
  p.act = test::random_vector(size(g.act, g.rows), rng);
  p.weight = test::random_vector(size(g.weight, g.cols), rng);
  p.out = test::random_vector(size(g.out, g.rows), rng);
  return p;
}

// fused_plan.hpp's definition, in double.
std::vector<float> plan_definition(const Problem& p) {
  const fused::GemmOp& g = p.op;
  std::vector<float> out = p.out;
  for (int b = 0; b < g.batch; ++b)
    for (int r = 0; r < g.rows; ++r)
      for (int c = 0; c < g.cols; ++c) {
        double sum = 0.0;
        for (int k = 0; k < g.depth; ++k)
          sum += static_cast<double>(p.act[b * g.act.batch_stride + r * g.act.ld + k]) *
                 p.weight[b * g.weight.batch_stride + c * g.weight.ld + k];
        float& o = out[b * g.out.batch_stride + r * g.out.ld + c];
        o = static_cast<float>(g.accumulate ? o + sum : sum);
      }
  return out;
}

std::vector<float> run_call(const fused::GemmCall& call, const Problem& p, DataType t) {
  const auto a = detail::to_storage(p.weight, t), b = detail::to_storage(p.act, t);
  auto c = detail::to_storage(p.out, call.c.type);
  cpu_gemm(call, a.data(), b.data(), c.data());
  return detail::from_storage(c, call.c.type);
}

TEST(SimtGemm, DescriptorComputesThePlansDefinition) {
  std::mt19937_64 rng(test::test_seed());
  for (int k = 0; k < 200; ++k) {
    const Problem p = random_problem(rng);
    const DataType t = k % 3 == 0 ? DataType::kBFloat16 : DataType::kFloat32;
    const fused::GemmCall call = fused::gemm_call(p.op, t, MathMode::kStrict);
    EXPECT_EQ(call.c.type, p.op.out.buffer == fused::BufferKind::kGatesX ? DataType::kFloat32 : t);
    Problem rounded = p;  // the definition on the values the storage type holds
    for (auto* v : {&rounded.act, &rounded.weight}) *v = detail::from_storage(detail::to_storage(*v, t), t);
    rounded.out = detail::from_storage(detail::to_storage(p.out, call.c.type), call.c.type);
    const std::vector<float> want = plan_definition(rounded), got = run_call(call, p, t);
    const double tol = call.c.type == DataType::kBFloat16 ? 2e-2 : 1e-5;
    ASSERT_TRUE(test::all_close(want, got, tol, tol, "gemm " + std::to_string(k)));
  }
}

TEST(SimtGemm, Tf32RoundsTheInputs) {
  Problem p;
  p.op.rows = p.op.cols = p.op.depth = 1;
  p.op.act.ld = p.op.weight.ld = p.op.out.ld = 1;
  p.op.out.buffer = fused::BufferKind::kGatesX;
  p.act = {1.0f + 0x1.0p-20f};  // below TF32's 10 mantissa bits
  p.weight = {1.0f};
  p.out = {0.0f};
  EXPECT_EQ(run_call(fused::gemm_call(p.op, DataType::kFloat32, MathMode::kStrict), p, DataType::kFloat32)[0],
            1.0f + 0x1.0p-20f);
  EXPECT_EQ(run_call(fused::gemm_call(p.op, DataType::kFloat32, MathMode::kTF32), p, DataType::kFloat32)[0], 1.0f);
}

// Every field of the descriptor matters: a wrong one is refused or changes the result.
TEST(SimtGemm, AWrongDescriptorShows) {
  std::mt19937_64 rng(test::test_seed() + 1);
  int changed = 0, refused = 0;
  for (int k = 0; k < 40; ++k) {
    Problem p = random_problem(rng);
    p.op.rows = 3, p.op.cols = 4, p.op.depth = 5, p.op.batch = 2;  // non-square, batched
    p.op.act.ld = 6, p.op.weight.ld = 7, p.op.out.ld = 5;
    p.op.act.batch_stride = 20, p.op.weight.batch_stride = 30, p.op.out.batch_stride = 16;
    p.op.accumulate = true;
    p.act = test::random_vector(40, rng), p.weight = test::random_vector(60, rng), p.out = test::random_vector(32, rng);
    p.op.out.buffer = fused::BufferKind::kGatesX;
    const fused::GemmCall right = fused::gemm_call(p.op, DataType::kFloat32, MathMode::kStrict);
    const std::vector<float> want = run_call(right, p, DataType::kFloat32);
    std::vector<fused::GemmCall> wrong(6, right);
    wrong[0].trans_a = fused::GemmOperation::kN;
    wrong[1].trans_b = fused::GemmOperation::kT;
    wrong[2].a.ld -= 1;
    wrong[3].b.batch_stride -= 1;
    wrong[4].c.ld += 1;
    wrong[5].beta = 0.0f;
    for (const fused::GemmCall& w : wrong) {
      try {
        if (run_call(w, p, DataType::kFloat32) != want) ++changed;
      } catch (const std::invalid_argument&) {
        ++refused;
      }
    }
  }
  EXPECT_EQ(changed + refused, 40 * 6);
  EXPECT_GT(refused, 0);
  EXPECT_GT(changed, 0);
}

}  // namespace
}  // namespace lstmrt::simt
