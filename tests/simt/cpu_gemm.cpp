// CPU evaluation of a cuBLASLt GEMM descriptor (see cpu_gemm.hpp).
#include "simt/cpu_gemm.hpp"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/elements.hpp"

namespace lstmrt::simt {
namespace {

float load(const void* base, DataType type, std::int64_t index) {
  return detail::load_element(static_cast<const char*>(base) + index * detail::element_bytes(type), type);
}

void store(void* base, DataType type, std::int64_t index, float v) {
  detail::store_element(v, type, static_cast<char*>(base) + index * detail::element_bytes(type));
}

// TF32: 10 explicit mantissa bits, round to nearest (ties away, as the tensor cores' conversion).
float to_tf32(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

void check(bool ok, const char* what, const fused::GemmCall& g) {
  if (!ok)
    throw std::invalid_argument(
        fmt::format("cpu_gemm: {}: A {}x{} ld {} batch {} stride {}, B {}x{} ld {} batch {} stride {}, C {}x{} ld {} "
                    "batch {} stride {}",
                    what, g.a.rows, g.a.cols, g.a.ld, g.a.batch, g.a.batch_stride, g.b.rows, g.b.cols, g.b.ld,
                    g.b.batch, g.b.batch_stride, g.c.rows, g.c.cols, g.c.ld, g.c.batch, g.c.batch_stride));
}

}  // namespace

void cpu_gemm(const fused::GemmCall& g, const void* a, const void* b, void* c) {
  const bool ta = g.trans_a == fused::GemmOperation::kT, tb = g.trans_b == fused::GemmOperation::kT;
  const std::int64_t m = ta ? g.a.cols : g.a.rows, k = ta ? g.a.rows : g.a.cols;
  const std::int64_t kb = tb ? g.b.cols : g.b.rows, n = tb ? g.b.rows : g.b.cols;
  check(m == g.c.rows && n == g.c.cols && k == kb, "op(A)·op(B) does not match C", g);
  check(g.a.ld >= g.a.rows && g.b.ld >= g.b.rows && g.c.ld >= g.c.rows, "a leading dimension below its rows", g);
  check(g.a.batch == g.c.batch && g.b.batch == g.c.batch && g.c.batch >= 1, "batch counts differ", g);
  const bool tf32 = g.compute == fused::GemmCompute::kFloat32FastTF32;
  auto in = [&](float v) { return tf32 ? to_tf32(v) : v; };
  for (int batch = 0; batch < g.c.batch; ++batch) {
    const std::int64_t oa = batch * g.a.batch_stride, ob = batch * g.b.batch_stride, oc = batch * g.c.batch_stride;
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t i = 0; i < m; ++i) {
        double sum = 0.0;
        for (std::int64_t p = 0; p < k; ++p) {
          const std::int64_t ia = ta ? p + i * g.a.ld : i + p * g.a.ld;  // op(A)(i, p)
          const std::int64_t ib = tb ? j + p * g.b.ld : p + j * g.b.ld;  // op(B)(p, j)
          sum += static_cast<double>(in(load(a, g.a.type, oa + ia))) * in(load(b, g.b.type, ob + ib));
        }
        const std::int64_t ic = oc + i + j * g.c.ld;
        double d = static_cast<double>(g.alpha) * sum;
        if (g.beta != 0.0f) d += static_cast<double>(g.beta) * load(c, g.c.type, ic);
        store(c, g.c.type, ic, static_cast<float>(d));
      }
  }
}

}  // namespace lstmrt::simt
