#include "cli/demo.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <vector>

#include "lstmrt/error.hpp"

namespace lstmrt::cli {

ModelDesc demo_model() {
  ModelDesc desc;
  desc.input_size = 1;
  desc.hidden_size = 1;
  return desc;
}

Weights demo_weights() {
  LayerWeights w;
  w.w_ih = {0.5f, -0.4f, 0.3f, 0.7f};  // gates i f g o, (4H=4, I=1)
  w.w_hh = {0.2f, 0.1f, -0.3f, 0.4f};  // (4H=4, H=1)
  w.b_ih = {0.1f, 0.2f, -0.1f, 0.05f};
  w.b_hh = {0.0f, 0.0f, 0.0f, 0.0f};
  return Weights{{w}};
}

namespace {

void demo_on(BackendKind kind, std::ostream& out) {
  Lstm lstm = Lstm::create(demo_model(), demo_weights(), BackendOptions{kind});
  const std::vector<float> x = {0.1f, 0.2f, 0.3f};  // (T=3, N=1, I=1)
  ForwardRequest req;
  req.seq_len = 3;
  req.batch = 1;
  req.x = x.data();

  std::vector<float> y(3), h(1), c(1);
  out << fmt::format("backend {}\n", lstm.backend_name());

  req.y = y.data();  // return_sequences only
  lstm.forward_host(req);
  out << fmt::format("  return_sequences=True               -> output {}\n", y);

  req.y = nullptr;  // return_state only: Keras returns [output = h, state_h, state_c]
  req.h_n = h.data();
  req.c_n = c.data();
  lstm.forward_host(req);
  out << fmt::format("  return_state=True                   -> output {}, state_h {}, state_c {}\n", h[0], h[0], c[0]);

  std::fill(y.begin(), y.end(), 0.0f);
  req.y = y.data();  // both
  lstm.forward_host(req);
  out << fmt::format("  return_sequences=True, return_state -> output {}, state_h {}, state_c {}\n", y, h[0], c[0]);
  out << fmt::format("  the last sequence value {} {} state_h {}; state_c {} is the cell state, not h\n", y[2],
                     y[2] == h[0] ? "equals" : "DIFFERS FROM", h[0], c[0]);
}

}  // namespace

int run_demo(std::ostream& out) {
  out << "lstmrt demo: x = [0.1, 0.2, 0.3] (3 steps, 1 feature), LSTM with 1 unit, fixed weights\n";
  int status = 0;
  for (BackendKind kind : {BackendKind::kReference, BackendKind::kCudnn, BackendKind::kFused}) {
    try {
      demo_on(kind, out);
    } catch (const Error& e) {
      const bool unavailable = e.code() == ErrorCode::kNoDevice || e.code() == ErrorCode::kUnsupported;
      out << fmt::format("backend {}: {} ({})\n", to_string(kind), unavailable ? "not available here" : "FAILED",
                         e.what());
      if (!unavailable) status = 1;
    }
  }
  return status;
}

}  // namespace lstmrt::cli
