// The executor's checks of one request against the model, before it joins a batch: shapes,
// types, byte counts, lengths, Keras masking, initial states, the sequence rules. A failed check
// is that request's error only.
#include <fmt/format.h>

#include <cstring>

#include "chunk_reader.hpp"
#include "common/elements.hpp"
#include "executor_item.hpp"
#include "lstmrt/error.hpp"
#include "triton_types.hpp"

namespace lstmrt::serving {
namespace {

std::string shape_string(const std::vector<std::int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

[[noreturn]] void bad_request(const ExecRequest& r, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, fmt::format("request {}: {}", r.label, what));
}

}  // namespace

std::vector<std::uint8_t> Executor::read_to_host(const TensorView& t) {
  std::vector<std::uint8_t> out(t.bytes());
  ChunkReader(t, *device_).read(out.data(), out.size());
  for (const TensorView::Chunk& c : t.chunks)
    if (c.on_device) {
      device_->synchronize();  // the pieces copied from device memory have landed
      break;
    }
  return out;
}

Executor::Item Executor::check(const ExecRequest& r, std::size_t index, std::uint64_t now_us) {
  Item item;
  item.index = index;
  const bool wants = r.want_y || r.want_h_n || r.want_c_n;
  if (!wants && (!r.in_sequence || r.key.empty())) {
    item.skip = true;
    return item;
  }
  const DataType data = config_.options.data_type;
  const std::size_t e = element_bytes_;
  auto check_memory = [&](const TensorView& t, const char* name) {
    if (device_->is_host())
      for (const TensorView::Chunk& c : t.chunks)
        if (c.on_device)
          bad_request(r, fmt::format("input '{}' is in GPU memory: a KIND_CPU instance takes host memory", name));
  };
  // x: (B, T, I)
  if (!r.x) bad_request(r, "no input 'x': expected x of shape [B, T, input_size]");
  const TensorView& x = *r.x;
  const int I = served_.input_size();
  if (x.type != data) bad_request(r, fmt::format("input 'x' is {}: expected {}", x.type_name, triton_name(data)));
  if (x.shape.size() != 3 || x.shape[0] < 1 || x.shape[1] < 1 || x.shape[2] != I)
    bad_request(r, fmt::format("input 'x' has shape {}: expected [B, T, {}] with B, T >= 1", shape_string(x.shape), I));
  if (x.shape[0] > (1 << 24) || x.shape[1] > (1 << 24))
    bad_request(r, fmt::format("input 'x' has shape {}: expected B, T below 2^24", shape_string(x.shape)));
  item.B = static_cast<int>(x.shape[0]);
  item.T = static_cast<int>(x.shape[1]);
  if (x.bytes() != static_cast<std::size_t>(x.numel()) * e)
    bad_request(r, fmt::format("input 'x' holds {} bytes: expected {} for shape {}", x.bytes(), x.numel() * e,
                               shape_string(x.shape)));
  check_memory(x, "x");
  // lengths: B values in [0, T]
  if (r.lengths) {
    const TensorView& l = *r.lengths;
    if (served_.model.masking)
      bad_request(r, "input 'lengths': the model's Masking layer sets the lengths from x: expected no lengths");
    if (l.type != DataType::kInt32 && l.type != DataType::kInt64)
      bad_request(r, fmt::format("input 'lengths' is {}: expected INT32 or INT64", l.type_name));
    if (l.numel() != item.B || l.bytes() != static_cast<std::size_t>(item.B) * detail::element_bytes(*l.type))
      bad_request(r, fmt::format("input 'lengths' has shape {}: expected {} values, one per row of x",
                                 shape_string(l.shape), item.B));
    check_memory(l, "lengths");
    const std::vector<std::uint8_t> raw = read_to_host(l);
    for (int b = 0; b < item.B; ++b) {
      std::int64_t v;
      if (l.type == DataType::kInt32) {
        std::int32_t v32;
        std::memcpy(&v32, raw.data() + 4 * b, 4);
        v = v32;
      } else {
        std::memcpy(&v, raw.data() + 8 * b, 8);
      }
      if (v < 0 || v > item.T)
        bad_request(
            r, fmt::format("input 'lengths': row {} has length {}: expected 0..{} (the steps in x)", b, v, item.T));
      item.lengths.push_back(static_cast<std::int32_t>(v));
    }
  }
  // Keras Masking: a row's valid steps are those with any feature != mask value; they must be a prefix.
  if (served_.model.masking) {
    const std::vector<std::uint8_t> raw = read_to_host(x);
    for (int b = 0; b < item.B; ++b) {
      int length = 0;
      for (int t = 0; t < item.T; ++t) {
        const std::uint8_t* step = raw.data() + (static_cast<std::size_t>(b) * item.T + t) * I * e;
        bool valid = false;
        for (int i = 0; i < I && !valid; ++i)
          valid = detail::load_element(step + i * e, data) != served_.model.mask_value;
        if (valid && length != t)
          bad_request(r, fmt::format("input 'x': row {} has a valid step {} after masked step {}: expected "
                                     "right-padded rows (the Masking layer's valid steps a prefix of each row)",
                                     b, t, length));
        if (valid) length = t + 1;
      }
      item.lengths.push_back(length);
    }
  }
  // h0 / c0: (B, L·D, H_out) / (B, L·D, H)
  const StageGeometry& g = served_.stages.front();
  for (auto [t, name, width] :
       {std::tuple<const TensorView*, const char*, int>{r.h0, "h0", g.hidden_out}, {r.c0, "c0", g.hidden}}) {
    if (!t) continue;
    if (served_.stages.size() != 1)
      bad_request(r, fmt::format("input '{}': the model has {} stages: initial states are taken by one-stage models",
                                 name, served_.stages.size()));
    if (t->type != data)
      bad_request(r, fmt::format("input '{}' is {}: expected {}", name, t->type_name, triton_name(data)));
    if (t->shape != std::vector<std::int64_t>{item.B, g.state_rows, width} ||
        t->bytes() != static_cast<std::size_t>(t->numel()) * e)
      bad_request(
          r, fmt::format("input '{}' has shape {}: expected [{}, {}, {}] (B, L·D, {})", name, shape_string(t->shape),
                         item.B, g.state_rows, width, std::string(name) == "h0" ? "H_out" : "H"));
    check_memory(*t, name);
  }
  if (config_.sequence.enabled) {
    if (r.key.empty()) bad_request(r, "no correlation ID: expected a sequence_id for this sequence model");
    if (item.B != 1)
      bad_request(r, fmt::format("input 'x' has {} rows: a sequence request carries one row (B = 1)", item.B));
    if ((r.h0 || r.c0) && !r.start)
      bad_request(r, fmt::format("sequence {}: h0/c0 given without the START flag: the backend holds the state of a "
                                 "running sequence; initial states go with its first request",
                                 r.key.to_string()));
    try {
      item.claim = store_->claim(r.key, r.start, r.end, now_us);
    } catch (const Error& err) {
      bad_request(r, err.what());
    }
  }
  return item;
}

}  // namespace lstmrt::serving
