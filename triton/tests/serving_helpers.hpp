// Test helpers for the serving pieces: served models built in memory, requests whose tensors are
// split into random pieces (as Triton may hand them over), and a sink that hands out poisoned host
// buffers and keeps what was written.
#pragma once

#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/compare.hpp"
#include "common/reference_runner.hpp"
#include "executor.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt::serving::test {

using lstmrt::test::all_close;
using lstmrt::test::random_vector;

inline ServedModel one_stage(const ModelDesc& desc, const Weights& w) {
  ServedModel s;
  ImportedStage stage;
  stage.name = "lstm";
  stage.desc = desc;
  stage.weights = w;
  s.model.format = "test";
  s.model.source = "memory";
  s.model.stages.push_back(std::move(stage));
  s.stages.push_back(stage_geometry(s.model.stages[0], desc.input_size));
  return s;
}

inline ServingConfig config_for(int max_batch_size, bool sequences = false, int slots = 8) {
  ServingConfig c;
  c.model_name = "test";
  c.max_batch_size = max_batch_size;
  c.model_file = "model.npz";
  c.sequence.enabled = sequences;
  c.sequence.oldest = true;
  c.sequence.slots = slots;
  return c;
}

inline std::unique_ptr<Executor> host_executor(const ServingConfig& c, const ServedModel& s) {
  BackendOptions o;
  o.kind = BackendKind::kReference;
  return std::make_unique<Executor>(c, s, host_device(), o);
}

// A float32 tensor whose bytes are split into 1..3 pieces at random points.
struct OwnedTensor {
  std::vector<float> values;
  std::vector<std::int32_t> ints;
  std::vector<std::int64_t> longs;
  TensorView view;
};

inline void split_chunks(TensorView& v, const void* data, std::size_t bytes, std::mt19937_64& rng) {
  v.chunks.clear();
  std::size_t at = 0;
  const int pieces = 1 + static_cast<int>(rng() % 3);
  for (int p = 0; p < pieces && at < bytes; ++p) {
    const std::size_t n = p == pieces - 1 ? bytes - at : std::min(bytes - at, rng() % (bytes + 1));
    v.chunks.push_back({static_cast<const char*>(data) + at, n, false});
    at += n;
  }
  if (at < bytes) v.chunks.push_back({static_cast<const char*>(data) + at, bytes - at, false});
}

inline std::unique_ptr<OwnedTensor> float_tensor(std::vector<float> values, std::vector<std::int64_t> shape,
                                                 std::mt19937_64& rng) {
  auto t = std::make_unique<OwnedTensor>();
  t->values = std::move(values);
  t->view.type = DataType::kFloat32;
  t->view.type_name = "FP32";
  t->view.shape = std::move(shape);
  split_chunks(t->view, t->values.data(), t->values.size() * 4, rng);
  return t;
}

inline std::unique_ptr<OwnedTensor> int_tensor(const std::vector<std::int32_t>& values, bool as_int64,
                                               std::mt19937_64& rng) {
  auto t = std::make_unique<OwnedTensor>();
  t->view.shape = {static_cast<std::int64_t>(values.size())};
  if (as_int64) {
    t->longs.assign(values.begin(), values.end());
    t->view.type = DataType::kInt64;
    t->view.type_name = "INT64";
    split_chunks(t->view, t->longs.data(), t->longs.size() * 8, rng);
  } else {
    t->ints = values;
    t->view.type = DataType::kInt32;
    t->view.type_name = "INT32";
    split_chunks(t->view, t->ints.data(), t->ints.size() * 4, rng);
  }
  return t;
}

// Hands out NaN-filled host buffers; `written[{request, name}]` holds each output and its shape.
class HostSink final : public OutputSink {
 public:
  struct Written {
    std::vector<std::int64_t> shape;
    std::vector<float> values;
  };
  Destination output(std::size_t index, const std::string& name, const std::vector<std::int64_t>& shape,
                     std::size_t bytes) override {
    Written& w = written[{index, name}];
    w.shape = shape;
    w.values = lstmrt::test::poisoned(bytes / 4);
    return {w.values.data(), false};
  }
  const Written* find(std::size_t index, const std::string& name) const {
    auto it = written.find({index, name});
    return it == written.end() ? nullptr : &it->second;
  }
  std::map<std::pair<std::size_t, std::string>, Written> written;
};

// (L·D, B, W) lstmrt layout -> (B, L·D, W) as a request carries it.
inline std::vector<float> batch_first(const std::vector<float>& v, int R, int B, int W) {
  std::vector<float> out(v.size());
  for (int r = 0; r < R; ++r)
    for (int b = 0; b < B; ++b)
      for (int w = 0; w < W; ++w)
        out[(static_cast<std::size_t>(b) * R + r) * W + w] = v[(static_cast<std::size_t>(r) * B + b) * W + w];
  return out;
}

}  // namespace lstmrt::serving::test
