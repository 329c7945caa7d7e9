// ONNX stacks joined by random glue ops (tests/data/onnx_glue, gen_glue_models.py), checked
// against the onnx package's reference evaluator, an executor independent of lstmrt: whatever
// lstmrt accepts it must compute as onnx.reference computes the whole graph (the top node's Y and
// its Y_h, Y_c); a join the generator found inexact (the glue alone, run by onnx.reference, is not
// lstmrt's join) must be refused, naming a node; the forms exporters emit must be accepted.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/compare.hpp"
#include "common/golden_files.hpp"
#include "lstmrt/import.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt {
namespace {

using nlohmann::json;

json cases() {
  std::ifstream f(test::golden_path("onnx_glue", "cases.json"));
  return json::parse(f);
}

// lstmrt's y — (T, N, D·H), or (N, T, D·H) when run batch-major — as the node's Y: (T, D, N, H) for
// layout=0, (N, T, D, H) for layout=1.
std::vector<float> onnx_y(const std::vector<float>& y, int T, int N, int D, int H, bool ran_batch_major, bool layout1) {
  std::vector<float> out(y.size());
  for (int t = 0; t < T; ++t)
    for (int n = 0; n < N; ++n)
      for (int d = 0; d < D; ++d)
        for (int h = 0; h < H; ++h) {
          const std::size_t row = ran_batch_major ? std::size_t(n) * T + t : std::size_t(t) * N + n;
          const std::size_t at =
              layout1 ? ((std::size_t(n) * T + t) * D + d) * H + h : ((std::size_t(t) * D + d) * N + n) * H + h;
          out[at] = y[row * D * H + d * H + h];
        }
  return out;
}

// The top layer's rows of h_n/c_n (L·D, N, W) as ONNX's Y_h: (D, N, W), or (N, D, W) for layout=1.
std::vector<float> onnx_state(const std::vector<float>& s, int L, int D, int N, int W, bool layout1) {
  std::vector<float> out(std::size_t(D) * N * W);
  for (int d = 0; d < D; ++d)
    for (int n = 0; n < N; ++n)
      for (int w = 0; w < W; ++w)
        out[(layout1 ? (std::size_t(n) * D + d) : (std::size_t(d) * N + n)) * W + w] =
            s[((std::size_t(L - 1) * D + d) * N + n) * W + w];
  return out;
}

TEST(OnnxGlue, AcceptedJoinsComputeWhatTheReferenceEvaluatorComputes) {
  int accepted = 0, refused = 0;
  for (const json& c : cases()) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name + " (" + c.at("glue").get<std::string>() + ")");
    const std::string model = test::golden_path("onnx_glue", name + ".onnx");
    LoadedWeights w;
    try {
      w = load_weights(model);
    } catch (const Error& e) {
      ++refused;
      EXPECT_FALSE(c.at("must_accept").get<bool>()) << "refused a join lstmrt must read: " << e.what();
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find(" node '"), std::string::npos) << "names no node: " << e.what();
      continue;
    }
    ++accepted;
    EXPECT_TRUE(c.at("join_is_exact").get<bool>()) << "accepted a join that is not lstmrt's";
    const int L = c.at("layers"), D = c.at("directions"), H = c.at("hidden");
    const bool batch_major = c.at("x_batch_major"), layout1 = c.at("layout").get<int>() == 1;
    EXPECT_EQ(w.desc.num_layers, L);
    EXPECT_EQ(w.desc.num_directions(), D);
    const Array x = load_npy(test::golden_path("onnx_glue", name + ".x.npy"));
    const int T = static_cast<int>(x.shape[batch_major ? 1 : 0]), N = static_cast<int>(x.shape[batch_major ? 0 : 1]);
    const std::vector<float> xv = x.to_float32("x");
    Lstm lstm = Lstm::create(w.desc, w.weights, BackendOptions{BackendKind::kReference});
    std::vector<float> y = test::poisoned(std::size_t(T) * N * D * H), h = test::poisoned(std::size_t(L) * D * N * H),
                       cs = test::poisoned(std::size_t(L) * D * N * H);
    ForwardRequest req;
    req.seq_len = T, req.batch = N, req.x = xv.data(), req.y = y.data(), req.h_n = h.data(), req.c_n = cs.data();
    req.layout = batch_major ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
    lstm.forward_host(req);
    const ArrayMap expected = load_npz(test::golden_path("onnx_glue", name + ".expected.npz"));
    if (!c.at("encoder").get<bool>()) {
      const Array& want = test::npz_member(expected, "y", name);
      EXPECT_TRUE(test::all_close(want.to_float32("y"), onnx_y(y, T, N, D, H, batch_major, layout1), 1e-5, 1e-4, "Y"));
    } else {
      EXPECT_FALSE(expected.count("y")) << "an encoder case with a Y output";
    }
    EXPECT_TRUE(test::all_close(test::npz_member(expected, "h", name).to_float32("Y_h"),
                                onnx_state(h, L, D, N, H, layout1), 1e-5, 1e-4, "Y_h"));
    EXPECT_TRUE(test::all_close(test::npz_member(expected, "c", name).to_float32("Y_c"),
                                onnx_state(cs, L, D, N, H, layout1), 1e-5, 1e-4, "Y_c"));
  }
  EXPECT_GT(accepted, 20);
  EXPECT_GT(refused, 4);
}

// A Reshape of (T, 2, N, H) straight to (T, N, 2H) is refused naming it.
TEST(OnnxGlue, DirectReshapeOfABidirectionalYIsRefusedNamingTheNode) {
  for (const json& c : cases()) {
    if (c.at("glue") != "direct_reshape") continue;
    const std::string model = test::golden_path("onnx_glue", c.at("name").get<std::string>() + ".onnx");
    try {
      load_weights(model);
      ADD_FAILURE() << model << " was accepted";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("LSTM node 'lstm1'"), std::string::npos) << m;
      EXPECT_NE(m.find("Reshape node 'glue0_Reshape"), std::string::npos) << m;
    }
    return;
  }
  FAIL() << "no direct_reshape case";
}

}  // namespace
}  // namespace lstmrt
