// A small application linked against the installed lstmrt package: a 2-layer bidirectional LSTM
// with random weights on the best backend this machine offers (auto), host pointers in and out.
// Prints the backend, y (T, N, 2H) and h_n (L·2, N, H).
#include <cstdio>
#include <vector>

#include <lstmrt/lstmrt.hpp>

int main() {
  lstmrt::ModelDesc desc;
  desc.input_size = 3;
  desc.hidden_size = 4;
  desc.num_layers = 2;
  desc.direction = lstmrt::Direction::kBidirectional;
  const lstmrt::Weights weights = lstmrt::random_weights(desc, /*seed=*/7, /*scale=*/0.5f);

  const int seq_len = 5, batch = 2;
  const int out_width = desc.num_directions() * desc.output_size();
  const int state_rows = desc.num_layers * desc.num_directions();
  std::vector<float> x(static_cast<size_t>(seq_len) * batch * desc.input_size);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * static_cast<float>(i % 11) - 0.5f;
  std::vector<float> y(static_cast<size_t>(seq_len) * batch * out_width);
  std::vector<float> h_n(static_cast<size_t>(state_rows) * batch * desc.hidden_size);

  try {
    lstmrt::Lstm lstm = lstmrt::Lstm::create(desc, weights, {lstmrt::BackendKind::kAuto});
    lstmrt::ForwardRequest req;
    req.seq_len = seq_len;
    req.batch = batch;
    req.x = x.data();
    req.y = y.data();
    req.h_n = h_n.data();
    lstm.forward_host(req);
    std::printf("lstmrt %s, backend %s\n", lstmrt::version(), lstm.backend_name().c_str());
  } catch (const lstmrt::Error& e) {
    std::fprintf(stderr, "lstmrt_consumer: %s\n", e.what());
    return 1;
  }

  // y is time-major: y[t][n][c].
  std::printf("y (T=%d, N=%d, %d):\n", seq_len, batch, out_width);
  for (int t = 0; t < seq_len; ++t)
    for (int n = 0; n < batch; ++n) {
      std::printf("  t=%d n=%d:", t, n);
      for (int c = 0; c < out_width; ++c)
        std::printf(" %+.6f", y[(static_cast<size_t>(t) * batch + n) * out_width + c]);
      std::printf("\n");
    }
  std::printf("h_n (%d, N=%d, H=%d):\n", state_rows, batch, desc.hidden_size);
  for (int r = 0; r < state_rows; ++r)
    for (int n = 0; n < batch; ++n) {
      std::printf("  layer %d dir %d n=%d:", r / 2, r % 2, n);
      for (int c = 0; c < desc.hidden_size; ++c)
        std::printf(" %+.6f", h_n[(static_cast<size_t>(r) * batch + n) * desc.hidden_size + c]);
      std::printf("\n");
    }
  return 0;
}
