// Helpers for the cudnn backend's GPU suites: random cases, the reference on inputs rounded to the
// storage type (so the comparison measures the computation, not the input rounding), a device run
// with poisoned outputs (0xFF bytes: NaN in float32, float16 and bfloat16 alike) and per-precision
// tolerances relative to the output scale.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/compare.hpp"
#include "cudnn/cudnn_plan.hpp"
#include "gpu_test.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt::test {

inline std::size_t storage_bytes(DataType t) { return t == DataType::kFloat32 ? 4 : 2; }

inline std::vector<unsigned char> encode(const std::vector<float>& v, DataType t) {
  std::vector<unsigned char> out(v.size() * storage_bytes(t));
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (t == DataType::kFloat32) {
      std::memcpy(&out[i * 4], &v[i], 4);
    } else if (t == DataType::kFloat16) {
      const __half h = __float2half_rn(v[i]);
      std::memcpy(&out[i * 2], &h, 2);
    } else {
      const __nv_bfloat16 b = __float2bfloat16_rn(v[i]);
      std::memcpy(&out[i * 2], &b, 2);
    }
  }
  return out;
}

inline std::vector<float> decode(const std::vector<unsigned char>& bytes, DataType t) {
  const std::size_t n = bytes.size() / storage_bytes(t);
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (t == DataType::kFloat32) {
      std::memcpy(&out[i], &bytes[i * 4], 4);
    } else if (t == DataType::kFloat16) {
      __half h;
      std::memcpy(&h, &bytes[i * 2], 2);
      out[i] = __half2float(h);
    } else {
      __nv_bfloat16 b;
      std::memcpy(&b, &bytes[i * 2], 2);
      out[i] = __bfloat162float(b);
    }
  }
  return out;
}

inline std::vector<float> rounded(const std::vector<float>& v, DataType t) { return decode(encode(v, t), t); }

inline Weights rounded(const Weights& w, DataType t) {
  Weights out = w;
  for (LayerWeights& l : out.layers)
    for (std::vector<float>* v : {&l.w_ih, &l.w_hh, &l.b_ih, &l.b_hh, &l.w_hr, &l.peephole}) *v = rounded(*v, t);
  return out;
}

// One randomized configuration: model, options, inputs, which outputs.
struct Case {
  ModelDesc desc;
  BackendOptions options;
  Weights weights;
  int T = 1, N = 1;
  TensorLayout layout = TensorLayout::kTimeMajor;
  std::vector<std::int32_t> lengths;  // empty = none
  std::vector<std::uint8_t> mask;     // (N, T) ForwardRequest::mask; empty = none (exclusive with lengths)
  std::vector<float> x, h0, c0;       // h0/c0 empty = none
  bool want_y = true, want_state = true;
  PaddingMode padding = PaddingMode::kZero;
  ReverseOutputOrder order = ReverseOutputOrder::kOriginal;

  std::size_t y_count() const { return std::size_t(T) * N * desc.num_directions() * desc.output_size(); }
  std::size_t h_count() const { return std::size_t(desc.num_layers) * desc.num_directions() * N * desc.output_size(); }
  std::size_t c_count() const { return std::size_t(desc.num_layers) * desc.num_directions() * N * desc.hidden_size; }
  std::string describe() const {
    std::string len = "none";
    if (!lengths.empty()) {
      len.clear();
      for (auto l : lengths) len += (len.empty() ? "" : ",") + std::to_string(l);
    }
    if (!mask.empty()) {
      len = "mask ";
      for (std::size_t k = 0; k < mask.size(); ++k) len += (k % T == 0 && k ? "|" : "") + std::to_string(mask[k] != 0);
    }
    return fmt::format("{} | {} {} algo {} | T {} N {} {} lengths [{}] h0 {} y {} state {} {} {}",
                       lstmrt::describe(desc), to_string(options.data_type),
                       options.math == MathMode::kStrict ? "strict" : "tf32", to_string(options.cudnn_algo), T, N,
                       layout == TensorLayout::kTimeMajor ? "time-major" : "batch-major", len, !h0.empty(), want_y,
                       want_state, padding == PaddingMode::kCarryLast ? "carry" : "zero-pad",
                       order == ReverseOutputOrder::kProcessing ? "go_backwards" : "");
  }
};

struct CaseLimits {
  int max_input = 48, max_hidden = 48, max_layers = 3, max_steps = 24, max_batch = 9;
  bool projection = true, lengths = true, reverse = true, keras_options = true;
};

inline Case random_case(std::mt19937_64& rng, const BackendOptions& options, const CaseLimits& lim = {}) {
  std::uniform_int_distribution<int> pick(0, 1 << 30);
  Case c;
  c.options = options;
  c.options.kind = BackendKind::kCudnn;
  ModelDesc& d = c.desc;
  const int dirs = lim.reverse ? 3 : 2;
  const int dir_pick = pick(rng) % dirs;
  d.direction = dir_pick == 0 ? Direction::kForward : dir_pick == 1 ? Direction::kBidirectional : Direction::kReverse;
  d.input_size = 1 + pick(rng) % lim.max_input;
  d.hidden_size = 2 + pick(rng) % (lim.max_hidden - 1);
  d.proj_size = lim.projection && pick(rng) % 3 == 0 ? 1 + pick(rng) % (d.hidden_size - 1) : 0;
  d.num_layers = 1 + pick(rng) % lim.max_layers;
  c.weights = random_weights(d, pick(rng), 1.0f / std::sqrt(float(d.hidden_size)));
  c.T = 1 + pick(rng) % lim.max_steps;
  c.N = 1 + pick(rng) % lim.max_batch;
  c.layout = pick(rng) % 2 ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
  c.x = random_vector(std::size_t(c.T) * c.N * d.input_size, rng);
  if (lim.lengths && pick(rng) % 3 != 0) {
    c.lengths.resize(c.N);
    for (auto& l : c.lengths) {
      const int kind = pick(rng) % 6;  // 0 and 1 drawn often on purpose
      l = kind == 0 ? 0 : kind == 1 ? 1 : kind == 2 ? c.T : 1 + pick(rng) % c.T;
    }
  }
  if (pick(rng) % 2) {
    c.h0 = random_vector(c.h_count(), rng);
    c.c0 = random_vector(c.c_count(), rng);
  }
  const int outputs = pick(rng) % 3;
  c.want_y = outputs != 2;
  c.want_state = outputs != 0;
  if (lim.keras_options && pick(rng) % 3 == 0) c.padding = PaddingMode::kCarryLast;
  if (lim.keras_options && d.direction == Direction::kReverse && pick(rng) % 2)
    c.order = ReverseOutputOrder::kProcessing;
  return c;
}

struct HostOutputs {
  std::vector<float> y, h_n, c_n;
};

inline ForwardRequest host_request(const Case& c) {
  ForwardRequest r;
  r.seq_len = c.T;
  r.batch = c.N;
  r.layout = c.layout;
  r.lengths = c.lengths.empty() ? nullptr : c.lengths.data();
  r.mask = c.mask.empty() ? nullptr : c.mask.data();
  r.padding = c.padding;
  r.reverse_order = c.order;
  return r;
}

// The reference on the inputs rounded to the case's storage type.
inline HostOutputs run_reference(const Case& c) {
  const DataType t = c.options.data_type;
  const std::vector<float> x = rounded(c.x, t), h0 = rounded(c.h0, t), c0 = rounded(c.c0, t);
  HostOutputs out{poisoned(c.y_count()), poisoned(c.h_count()), poisoned(c.c_count())};
  ForwardRequest r = host_request(c);
  r.x = x.data();
  if (!c.h0.empty()) r.h0 = h0.data(), r.c0 = c0.data();
  if (c.want_y) r.y = out.y.data();
  if (c.want_state) r.h_n = out.h_n.data(), r.c_n = out.c_n.data();
  BackendOptions o;
  o.kind = BackendKind::kReference;
  Lstm::create(c.desc, rounded(c.weights, t), o).forward(r);
  return out;
}

// Device buffer holding `bytes`, uploaded or poisoned (0xFF) synchronously (test set-up).
struct DeviceBytes {
  DeviceArray<unsigned char> mem;
  explicit DeviceBytes(std::size_t bytes) : mem(bytes) {}
  DeviceBytes(const std::vector<unsigned char>& host) : mem(host.size()) {
    if (mem.ok() && !host.empty()) cudaMemcpy(mem.get(), host.data(), host.size(), cudaMemcpyHostToDevice);
  }
  void poison() {
    if (mem.count()) cudaMemset(mem.get(), 0xFF, mem.count());
  }
  std::vector<unsigned char> download() const {
    std::vector<unsigned char> host(mem.count());
    if (!host.empty()) cudaMemcpy(host.data(), mem.get(), host.size(), cudaMemcpyDeviceToHost);
    return host;
  }
};

// Runs `c` on `lstm` (a device backend) with poisoned outputs; `workspace`, when given, is the
// caller workspace. Returns the outputs as float (unrequested ones empty).
inline HostOutputs run_device(Lstm& lstm, const Case& c, cudaStream_t stream, void* workspace = nullptr,
                              std::size_t workspace_bytes = 0) {
  const DataType t = c.options.data_type;
  DeviceBytes x(encode(c.x, t)), h0(encode(c.h0, t)), c0(encode(c.c0, t));
  DeviceBytes y(c.want_y ? c.y_count() * storage_bytes(t) : 0);
  DeviceBytes h_n(c.want_state ? c.h_count() * storage_bytes(t) : 0);
  DeviceBytes c_n(c.want_state ? c.c_count() * storage_bytes(t) : 0);
  y.poison(), h_n.poison(), c_n.poison();
  ForwardRequest r = host_request(c);
  r.x = x.mem.get();
  if (!c.h0.empty()) r.h0 = h0.mem.get(), r.c0 = c0.mem.get();
  if (c.want_y) r.y = y.mem.get();
  if (c.want_state) r.h_n = h_n.mem.get(), r.c_n = c_n.mem.get();
  r.workspace = workspace;
  r.workspace_bytes = workspace_bytes;
  lstm.forward(r, stream);
  if (cudaStreamSynchronize(stream) != cudaSuccess) ADD_FAILURE() << "forward failed on the device: " << c.describe();
  HostOutputs out;
  if (c.want_y) out.y = decode(y.download(), t);
  if (c.want_state) out.h_n = decode(h_n.download(), t), out.c_n = decode(c_n.download(), t);
  return out;
}

// Tolerance relative to the output scale (max |expected|, at least 1): fp32 strict 1e-5,
// TF32 1e-3, float16 storage 1e-2, bfloat16 2e-2 (3 fewer mantissa bits than float16; h is
// stored rounded at every step and between layers, so rounding compounds over the recurrence).
// Inputs and weights are rounded to the storage type before the reference sees them.
inline double tolerance(const BackendOptions& o) {
  if (o.data_type == DataType::kBFloat16) return 2e-2;
  if (o.data_type == DataType::kFloat16) return 1e-2;
  return o.math == MathMode::kStrict ? 1e-5 : 1e-3;
}

inline ::testing::AssertionResult matches_reference(const Case& c, const HostOutputs& want, const HostOutputs& got) {
  double scale = 1.0;
  for (const auto* v : {&want.y, &want.h_n, &want.c_n})
    for (float e : *v)
      if (std::isfinite(e)) scale = std::max(scale, double(std::fabs(e)));
  const double atol = tolerance(c.options) * scale;
  if (c.want_y) {
    auto r = all_close(want.y, got.y, atol, 0.0, "y of " + c.describe());
    if (!r) return r;
  }
  if (c.want_state) {
    auto r = all_close(want.h_n, got.h_n, atol, 0.0, "h_n of " + c.describe());
    if (!r) return r;
    r = all_close(want.c_n, got.c_n, atol, 0.0, "c_n of " + c.describe());
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

inline Lstm create_cudnn(const Case& c) { return Lstm::create(c.desc, c.weights, c.options); }

// Why the cudnn backend refuses bfloat16 data on device 0 with the cuDNN loaded now (empty: it
// serves it): the backend's own gate, cudnn::bf16_refusal.
inline std::string cudnn_bf16_refusal() {
  int major = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) != cudaSuccess) return "no device 0";
  return cudnn::bf16_refusal(cudnnGetVersion(), major);
}

}  // namespace lstmrt::test
