// The executor on the host device (the reference backend; the same code path a GPU instance runs
// with the CUDA device): batches of ragged requests equal each request alone, bad requests fail
// alone, sequences served step by step equal the whole sequence, Keras stage chains equal
// lstmrt::run_model.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "common/expect_error.hpp"
#include "common/random_model.hpp"
#include "lstmrt/keras_run.hpp"
#include "serving_helpers.hpp"

namespace lstmrt::serving::test {
namespace {

using lstmrt::test::HostInputs;
using lstmrt::test::HostOutputs;

ModelDesc random_desc(std::mt19937_64& rng, bool forward_only) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  ModelDesc d;
  d.input_size = pick(1, 5);
  d.hidden_size = pick(2, 6);
  d.num_layers = pick(1, 2);
  d.direction = forward_only ? Direction::kForward : static_cast<Direction>(pick(0, 2));
  if (pick(0, 2) == 0) d.proj_size = pick(1, d.hidden_size - 1);
  lstmrt::test::randomize_cell_features(d, rng, true);
  return d;
}

// One request's inputs and what it asks for, with its tensors kept alive.
struct Case {
  int B = 1, T = 1;
  std::unique_ptr<OwnedTensor> x, lengths, h0, c0;
  HostInputs alone;  // the same request for the reference, batch-major
  ExecRequest exec;
};

Case random_case(const ModelDesc& d, std::mt19937_64& rng, int B, int T, bool lengths, bool h0, bool c0) {
  Case c;
  c.B = B;
  c.T = T;
  const int R = d.num_layers * d.num_directions();
  c.alone = lstmrt::test::random_inputs(d, T, B, rng, lengths, h0 || c0, TensorLayout::kBatchMajor);
  c.x = float_tensor(c.alone.x, {B, T, d.input_size}, rng);
  c.exec.x = &c.x->view;
  if (lengths) {
    c.lengths = int_tensor(*c.alone.lengths, rng() % 2, rng);
    c.exec.lengths = &c.lengths->view;
  }
  if (!h0) c.alone.h0 = std::vector<float>(lstmrt::test::h_count(d, B), 0.0f);
  if (!c0) c.alone.c0 = std::vector<float>(lstmrt::test::c_count(d, B), 0.0f);
  if (h0) {
    c.h0 = float_tensor(batch_first(*c.alone.h0, R, B, d.output_size()), {B, R, d.output_size()}, rng);
    c.exec.h0 = &c.h0->view;
  }
  if (c0) {
    c.c0 = float_tensor(batch_first(*c.alone.c0, R, B, d.hidden_size), {B, R, d.hidden_size}, rng);
    c.exec.c0 = &c.c0->view;
  }
  return c;
}

// The request's outputs as the executor wrote them equal the reference run on the request alone.
void expect_outputs(const ModelDesc& d, const HostOutputs& want, const HostSink& sink, std::size_t i, const Case& c,
                    double tol, const std::string& what) {
  const int R = d.num_layers * d.num_directions();
  const HostSink::Written* y = sink.find(i, "y");
  const HostSink::Written* h = sink.find(i, "h_n");
  const HostSink::Written* cn = sink.find(i, "c_n");
  ASSERT_EQ(y != nullptr, c.exec.want_y) << what;
  ASSERT_EQ(h != nullptr, c.exec.want_h_n) << what;
  ASSERT_EQ(cn != nullptr, c.exec.want_c_n) << what;
  if (y) {
    EXPECT_EQ(y->shape, (std::vector<std::int64_t>{c.B, c.T, d.num_directions() * d.output_size()})) << what;
    EXPECT_TRUE(all_close(want.y, y->values, tol, tol, what + " y"));
  }
  if (h) {
    EXPECT_EQ(h->shape, (std::vector<std::int64_t>{c.B, R, d.output_size()})) << what;
    EXPECT_TRUE(all_close(batch_first(want.h_n, R, c.B, d.output_size()), h->values, tol, tol, what + " h_n"));
  }
  if (cn) {
    EXPECT_EQ(cn->shape, (std::vector<std::int64_t>{c.B, R, d.hidden_size})) << what;
    EXPECT_TRUE(all_close(batch_first(want.c_n, R, c.B, d.hidden_size), cn->values, tol, tol, what + " c_n"));
  }
}

TEST(Executor, RaggedBatchEqualsEachRequestAlone) {
  std::mt19937_64 rng(lstmrt::test::test_seed());
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 12; ++trial) {
    const ModelDesc d = random_desc(rng, false);
    const Weights w = random_weights(d, rng(), 0.7f);
    const ServedModel served = one_stage(d, w);
    const ServingConfig config = config_for(16);
    auto exec = host_executor(config, served);
    Lstm reference = lstmrt::test::reference_lstm(d, w);
    std::vector<Case> cases;
    const int n = pick(1, 5);
    for (int k = 0; k < n; ++k) {
      cases.push_back(random_case(d, rng, pick(1, 3), pick(1, 7), pick(0, 2) == 0, pick(0, 2) == 0, pick(0, 2) == 0));
      Case& c = cases.back();
      do {
        c.exec.want_y = pick(0, 1);
        c.exec.want_h_n = pick(0, 1);
        c.exec.want_c_n = pick(0, 1);
      } while (!c.exec.want_y && !c.exec.want_h_n && !c.exec.want_c_n);
      c.exec.label = fmt::format("#{}", k);
    }
    std::vector<ExecRequest> requests;
    for (const Case& c : cases) requests.push_back(c.exec);
    HostSink sink;
    BatchTiming timing;
    const std::vector<Outcome> outcomes = exec->run(requests, sink, &timing);
    int rows = 0;
    for (const Case& c : cases) rows += c.B;
    EXPECT_EQ(timing.batch_rows, rows);
    const std::string what = fmt::format("trial {} {}", trial, describe(d));
    for (std::size_t k = 0; k < cases.size(); ++k) {
      ASSERT_TRUE(outcomes[k].ok) << outcomes[k].message;
      const HostOutputs want = lstmrt::test::run_host(reference, cases[k].alone);
      // Rows are computed independently by the reference: batching changes nothing, bit for bit.
      expect_outputs(d, want, sink, k, cases[k], 0.0, fmt::format("{} request {}", what, k));
    }
  }
}

TEST(Executor, BadRequestsFailAloneAndTheirBatchIsServed) {
  std::mt19937_64 rng(lstmrt::test::test_seed());
  ModelDesc d;
  d.input_size = 3;
  d.hidden_size = 4;
  d.num_layers = 2;
  const Weights w = random_weights(d, 5, 0.7f);
  const ServedModel served = one_stage(d, w);
  const ServingConfig config = config_for(16);
  auto exec = host_executor(config, served);
  Lstm reference = lstmrt::test::reference_lstm(d, w);

  std::vector<Case> cases;
  for (int k = 0; k < 10; ++k) {
    cases.push_back(random_case(d, rng, 2, 3 + k % 3, false, false, false));
    cases.back().exec.want_y = cases.back().exec.want_h_n = true;
    cases.back().exec.label = fmt::format("'r{}'", k);
  }
  cases[1].x->view.shape = {2, 3, 4};          // wrong input size
  cases[2].x->view.type = DataType::kFloat64;  // wrong dtype
  cases[2].x->view.type_name = "FP64";
  cases[3].exec.x = nullptr;                           // no x
  auto long_lengths = int_tensor({1, 9}, false, rng);  // longer than T
  cases[4].exec.lengths = &long_lengths->view;
  auto bad_h0 = float_tensor(std::vector<float>(2 * 4 * 3), {2, 3, 4}, rng);  // (B, R, H) with R = 3
  cases[5].exec.h0 = &bad_h0->view;
  auto short_lengths = int_tensor({1}, true, rng);  // one length for two rows
  cases[6].exec.lengths = &short_lengths->view;
  cases[7].x->view.chunks.pop_back();  // fewer bytes than the shape
  if (cases[7].x->view.chunks.empty()) cases[7].x->view.chunks.push_back({cases[7].x->values.data(), 4, false});
  cases[8].x->view.type = std::nullopt;  // a Triton type lstmrt has none for
  cases[8].x->view.type_name = "UINT16";

  std::vector<ExecRequest> requests;
  for (const Case& c : cases) requests.push_back(c.exec);
  HostSink sink;
  const std::vector<Outcome> out = exec->run(requests, sink);
  const std::vector<std::vector<std::string>> expected = {
      {},
      {"request 'r1'", "input 'x' has shape [2, 3, 4]", "expected [B, T, 3]"},
      {"request 'r2'", "input 'x' is FP64", "expected FP32"},
      {"request 'r3'", "no input 'x'"},
      {"request 'r4'", "input 'lengths': row 1 has length 9", "expected 0..4"},
      {"request 'r5'", "input 'h0' has shape [2, 3, 4]", "expected [2, 2, 4]"},
      {"request 'r6'", "input 'lengths' has shape [1]", "expected 2 values"},
      {"request 'r7'", "input 'x' holds", "bytes: expected 96"},
      {"request 'r8'", "input 'x' is UINT16", "expected FP32"},
      {}};
  for (std::size_t k = 0; k < cases.size(); ++k) {
    if (expected[k].empty()) {
      ASSERT_TRUE(out[k].ok) << out[k].message;
      expect_outputs(d, lstmrt::test::run_host(reference, cases[k].alone), sink, k, cases[k], 0.0,
                     fmt::format("request {}", k));
      continue;
    }
    EXPECT_FALSE(out[k].ok);
    EXPECT_EQ(out[k].code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(out[k].message.find('\n'), std::string::npos);
    for (const std::string& f : expected[k]) EXPECT_NE(out[k].message.find(f), std::string::npos) << out[k].message;
    EXPECT_EQ(sink.find(k, "y"), nullptr) << "no output for a failed request";
  }
}

// A random schedule of sequences: each round some sequences send their next chunk, in one batch.
TEST(Executor, SequencesServedChunkByChunkEqualTheWholeSequence) {
  std::mt19937_64 rng(lstmrt::test::test_seed());
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 6; ++trial) {
    const ModelDesc d = random_desc(rng, true);
    const Weights w = random_weights(d, rng(), 0.7f);
    const ServedModel served = one_stage(d, w);
    const ServingConfig config = config_for(8, true, /*slots=*/2);  // fewer slots than sequences: the pool grows
    auto exec = host_executor(config, served);
    Lstm reference = lstmrt::test::reference_lstm(d, w);
    const int R = d.num_layers, Ho = d.output_size(), H = d.hidden_size;

    struct Sequence {
      SequenceKey key;
      Case whole;             // the whole sequence, B = 1
      HostOutputs want;       // its reference answer
      std::vector<int> cuts;  // chunk boundaries 0 = c0 < c1 < ... = T
      std::size_t next = 0;   // next chunk
    };
    std::vector<Sequence> seqs(static_cast<std::size_t>(pick(3, 6)));
    for (std::size_t s = 0; s < seqs.size(); ++s) {
      Sequence& q = seqs[s];
      q.key = s % 2 ? SequenceKey::of(100 + s) : SequenceKey::of(fmt::format("seq-{}", s));
      const int T = pick(1, 10);
      q.whole = random_case(d, rng, 1, T, false, pick(0, 1), pick(0, 1));
      q.want = lstmrt::test::run_host(reference, q.whole.alone);
      q.cuts = {0};
      while (q.cuts.back() < T) q.cuts.push_back(std::min(T, q.cuts.back() + pick(1, 4)));
    }
    int rounds = 0;
    for (bool open = true; open; ++rounds) {
      open = false;
      std::vector<std::size_t> chosen;
      for (std::size_t s = 0; s < seqs.size(); ++s)
        if (seqs[s].next + 1 < seqs[s].cuts.size() && pick(0, 2) != 0) chosen.push_back(s);
      std::vector<Case> chunks;
      std::vector<ExecRequest> requests;
      for (std::size_t s : chosen) {
        Sequence& q = seqs[s];
        const int t0 = q.cuts[q.next], t1 = q.cuts[q.next + 1];
        Case c;
        c.B = 1;
        c.T = t1 - t0;
        c.x = float_tensor(std::vector<float>(q.whole.alone.x.begin() + t0 * d.input_size,
                                              q.whole.alone.x.begin() + t1 * d.input_size),
                           {1, c.T, d.input_size}, rng);
        c.exec.x = &c.x->view;
        c.exec.in_sequence = true;
        c.exec.key = q.key;
        c.exec.start = q.next == 0;
        c.exec.end = q.next + 2 == q.cuts.size();
        if (c.exec.start && q.whole.h0) c.exec.h0 = q.whole.exec.h0;
        if (c.exec.start && q.whole.c0) c.exec.c0 = q.whole.exec.c0;
        c.exec.want_y = true;
        c.exec.want_h_n = c.exec.want_c_n = pick(0, 1);
        c.exec.label = fmt::format("{} chunk {}", q.key.to_string(), q.next);
        requests.push_back(c.exec);
        chunks.push_back(std::move(c));
      }
      HostSink sink;
      const std::vector<Outcome> out = exec->run(requests, sink);
      for (std::size_t k = 0; k < chosen.size(); ++k) {
        Sequence& q = seqs[chosen[k]];
        ASSERT_TRUE(out[k].ok) << out[k].message;
        const int t0 = q.cuts[q.next], t1 = q.cuts[q.next + 1];
        const std::string what = fmt::format("trial {} {} steps {}..{}", trial, requests[k].label, t0, t1);
        const std::vector<float> want_y(q.want.y.begin() + t0 * Ho, q.want.y.begin() + t1 * Ho);
        EXPECT_TRUE(all_close(want_y, sink.find(k, "y")->values, 1e-5, 1e-5, what + " y"));
        if (requests[k].want_h_n) {
          // The state after the chunk equals the reference's over the prefix [0, t1).
          Case prefix = random_case(d, rng, 1, t1, false, false, false);
          prefix.alone.x.assign(q.whole.alone.x.begin(), q.whole.alone.x.begin() + t1 * d.input_size);
          prefix.alone.h0 = q.whole.alone.h0;
          prefix.alone.c0 = q.whole.alone.c0;
          const HostOutputs p = lstmrt::test::run_host(reference, prefix.alone);
          EXPECT_TRUE(all_close(p.h_n, sink.find(k, "h_n")->values, 1e-5, 1e-5, what + " h_n"));
          EXPECT_TRUE(all_close(p.c_n, sink.find(k, "c_n")->values, 1e-5, 1e-5, what + " c_n"));
        }
        ++q.next;
      }
      for (const Sequence& q : seqs) open |= q.next + 1 < q.cuts.size();
      (void)R;
      (void)H;
    }
    EXPECT_EQ(exec->sequences()->active(), 0) << "every sequence ended";
    EXPECT_GE(exec->sequences()->capacity(), 2);
  }
}

TEST(Executor, SequenceRequestsThatBreakTheRulesFailAlone) {
  std::mt19937_64 rng(lstmrt::test::test_seed());
  ModelDesc d;
  d.input_size = 2;
  d.hidden_size = 3;
  const Weights w = random_weights(d, 9, 0.7f);
  const ServedModel served = one_stage(d, w);
  const ServingConfig config = config_for(8, true, 4);
  auto exec = host_executor(config, served);

  auto step = [&](SequenceKey key, bool start, bool end, int B = 1, bool h0 = false) {
    Case c = random_case(d, rng, B, 2, false, h0, false);
    c.exec.in_sequence = true;
    c.exec.key = std::move(key);
    c.exec.start = start;
    c.exec.end = end;
    c.exec.want_y = true;
    c.exec.label = "'s'";
    return c;
  };
  std::vector<Case> cases;
  cases.push_back(step(SequenceKey::of(1), true, false));                 // fine: starts 1
  cases.push_back(step(SequenceKey::of(2), false, false));                // unknown sequence
  cases.push_back(step(SequenceKey::of(3), true, false, 2));              // two rows
  cases.push_back(step(SequenceKey::of(std::uint64_t{0}), true, false));  // no correlation ID
  cases.push_back(step(SequenceKey::of(1), false, false));                // 1 again in the same batch
  std::vector<ExecRequest> requests;
  for (const Case& c : cases) requests.push_back(c.exec);
  HostSink sink;
  std::vector<Outcome> out = exec->run(requests, sink);
  EXPECT_TRUE(out[0].ok) << out[0].message;
  EXPECT_NE(out[1].message.find("sequence 2 is not active"), std::string::npos) << out[1].message;
  EXPECT_NE(out[2].message.find("a sequence request carries one row"), std::string::npos) << out[2].message;
  EXPECT_NE(out[3].message.find("no correlation ID"), std::string::npos) << out[3].message;
  EXPECT_NE(out[4].message.find("two requests in one batch"), std::string::npos) << out[4].message;

  // Continuing with an initial state is refused; the sequence goes on afterwards.
  Case again = step(SequenceKey::of(1), false, false, 1, true);
  HostSink sink2;
  out = exec->run({again.exec}, sink2);
  EXPECT_NE(out[0].message.find("h0/c0 given without the START flag"), std::string::npos) << out[0].message;
  Case fine = step(SequenceKey::of(1), false, true);
  HostSink sink3;
  out = exec->run({fine.exec}, sink3);
  EXPECT_TRUE(out[0].ok) << out[0].message;
  EXPECT_EQ(exec->sequences()->active(), 0);
}

// A padding request of the direct strategy (no correlation ID, no outputs) is skipped.
TEST(Executor, SequenceBatcherPaddingRequestIsSkipped) {
  std::mt19937_64 rng(lstmrt::test::test_seed());
  ModelDesc d;
  d.input_size = 2;
  d.hidden_size = 3;
  const ServedModel served = one_stage(d, random_weights(d, 3, 0.5f));
  const ServingConfig config = config_for(4, true, 4);
  auto exec = host_executor(config, served);
  Case c = random_case(d, rng, 1, 2, false, false, false);
  c.exec.in_sequence = true;
  HostSink sink;
  BatchTiming timing;
  const std::vector<Outcome> out = exec->run({c.exec}, sink, &timing);
  EXPECT_TRUE(out[0].ok);
  EXPECT_FALSE(out[0].computed);
  EXPECT_EQ(timing.batch_rows, 0);
  EXPECT_TRUE(sink.written.empty());
}

// Keras models (chains of stages, merged bidirectional halves, masking, last output only): each
// row served as its own request equals lstmrt::run_model over all rows at once.
TEST(Executor, KerasStageChainsEqualRunModel) {
  std::mt19937_64 rng(lstmrt::test::test_seed());
  const std::string dir = std::string(LSTMRT_TEST_DATA_DIR) + "/keras_import/";
  for (const char* name : {"bidir_mul_go_backwards_last", "bidir_sum_ave_masked_nobias", "bidir_concat_state"}) {
    const ServedModel served = load_served_model(dir + name + ".keras");
    const Array xa = load_npy(dir + name + ".x.npy");  // (B, T, I)
    const std::vector<float> x = xa.to_float32("x");
    const int B = static_cast<int>(xa.shape[0]), T = static_cast<int>(xa.shape[1]), I = static_cast<int>(xa.shape[2]);
    BackendOptions ref;
    ref.kind = BackendKind::kReference;
    const ModelOutputs all =
        run_model(load_keras_model(dir + name + ".keras"), ref, TensorLayout::kBatchMajor, {{xa.shape, x.data()}});
    struct {
      std::vector<float> y, h_n, c_n;
      std::vector<std::int64_t> y_shape, h_n_shape, c_n_shape;
    } want{all.outputs[0].values, all.h_n.values, all.c_n.values, all.outputs[0].shape, all.h_n.shape, all.c_n.shape};
    const ServingConfig config = config_for(16);
    auto exec = host_executor(config, served);
    std::vector<std::unique_ptr<OwnedTensor>> xs;
    std::vector<ExecRequest> requests;
    for (int b = 0; b < B; ++b) {
      xs.push_back(
          float_tensor(std::vector<float>(x.begin() + b * T * I, x.begin() + (b + 1) * T * I), {1, T, I}, rng));
      ExecRequest r;
      r.x = &xs.back()->view;
      r.want_y = r.want_h_n = r.want_c_n = true;
      r.label = fmt::format("row {}", b);
      requests.push_back(r);
    }
    HostSink sink;
    const std::vector<Outcome> out = exec->run(requests, sink);
    const std::size_t y_row = want.y.size() / B;
    const int R = static_cast<int>(want.h_n_shape[0]), Wh = static_cast<int>(want.h_n_shape[2]),
              Wc = static_cast<int>(want.c_n_shape[2]);
    for (int b = 0; b < B; ++b) {
      ASSERT_TRUE(out[b].ok) << name << ": " << out[b].message;
      const std::string what = fmt::format("{} row {}", name, b);
      std::vector<std::int64_t> y_shape = want.y_shape;
      y_shape[0] = 1;
      EXPECT_EQ(sink.find(b, "y")->shape, y_shape) << what;
      EXPECT_TRUE(all_close(std::vector<float>(want.y.begin() + b * y_row, want.y.begin() + (b + 1) * y_row),
                            sink.find(b, "y")->values, 0, 0, what + " y"));
      std::vector<float> h(R * Wh), c(R * Wc);
      for (int r = 0; r < R; ++r) {
        std::copy_n(want.h_n.begin() + (static_cast<std::size_t>(r) * B + b) * Wh, Wh, h.begin() + r * Wh);
        std::copy_n(want.c_n.begin() + (static_cast<std::size_t>(r) * B + b) * Wc, Wc, c.begin() + r * Wc);
      }
      EXPECT_TRUE(all_close(h, sink.find(b, "h_n")->values, 0, 0, what + " h_n"));
      EXPECT_TRUE(all_close(c, sink.find(b, "c_n")->values, 0, 0, what + " c_n"));
    }
  }
}

}  // namespace
}  // namespace lstmrt::serving::test
