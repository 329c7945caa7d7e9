// Helpers for GPU suites that drive Lstm::forward on device buffers themselves (graph capture and
// replay, stream checks) and compare runs bit for bit.
#pragma once

#include <cuda_runtime_api.h>

#include <cstring>
#include <utility>
#include <vector>

#include "cudnn_test_util.hpp"

namespace lstmrt::test {

// Same size and the same bytes in y, h_n and c_n.
inline bool bitwise_equal(const HostOutputs& a, const HostOutputs& b) {
  for (auto [x, y] : {std::pair{&a.y, &b.y}, std::pair{&a.h_n, &b.h_n}, std::pair{&a.c_n, &b.c_n}})
    if (x->size() != y->size() || (!x->empty() && std::memcmp(x->data(), y->data(), x->size() * 4) != 0)) return false;
  return true;
}

// Device copies of a case's inputs and poisoned outputs that stay at fixed addresses, for tests
// that drive Lstm::forward themselves (capture, replay, stream checks).
struct DeviceCall {
  const Case& c;
  DataType t;
  DeviceBytes x, h0, c0, y, h_n, c_n;
  explicit DeviceCall(const Case& cs)
      : c(cs),
        t(cs.options.data_type),
        x(encode(cs.x, t)),
        h0(encode(cs.h0, t)),
        c0(encode(cs.c0, t)),
        y(cs.want_y ? cs.y_count() * storage_bytes(t) : 0),
        h_n(cs.want_state ? cs.h_count() * storage_bytes(t) : 0),
        c_n(cs.want_state ? cs.c_count() * storage_bytes(t) : 0) {}
  // Uploads the case's current x, h0, c0 again and poisons the outputs.
  void refresh() {
    for (auto [dst, src] : {std::pair{&x, &c.x}, std::pair{&h0, &c.h0}, std::pair{&c0, &c.c0}}) {
      const std::vector<unsigned char> bytes = encode(*src, t);
      if (!bytes.empty()) cudaMemcpy(dst->mem.get(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice);
    }
    y.poison(), h_n.poison(), c_n.poison();
  }
  ForwardRequest request() const {
    ForwardRequest r = host_request(c);
    r.x = x.mem.get();
    if (!c.h0.empty()) r.h0 = h0.mem.get(), r.c0 = c0.mem.get();
    if (c.want_y) r.y = y.mem.get();
    if (c.want_state) r.h_n = h_n.mem.get(), r.c_n = c_n.mem.get();
    return r;
  }
  HostOutputs outputs() const {
    HostOutputs out;
    if (c.want_y) out.y = decode(y.download(), t);
    if (c.want_state) out.h_n = decode(h_n.download(), t), out.c_n = decode(c_n.download(), t);
    return out;
  }
};

// A forward captured by the caller into its own CUDA graph (instantiated; destroyed with the object).
struct CapturedForward {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  CapturedForward() = default;
  CapturedForward(const CapturedForward&) = delete;
  CapturedForward& operator=(const CapturedForward&) = delete;
  ~CapturedForward() {
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
  }
};

// Captures lstm.forward(req) on `stream` into `out` and instantiates it (fails the test on a CUDA
// error: check HasFatalFailure()).
inline void capture_forward(Lstm& lstm, const ForwardRequest& req, cudaStream_t stream, CapturedForward& out) {
  LSTMRT_TEST_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  lstm.forward(req, stream);
  LSTMRT_TEST_CUDA(cudaStreamEndCapture(stream, &out.graph));
  LSTMRT_TEST_CUDA(cudaGraphInstantiate(&out.exec, out.graph, 0));
}

}  // namespace lstmrt::test
