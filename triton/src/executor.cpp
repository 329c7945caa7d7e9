#include "executor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "chunk_reader.hpp"
#include "common/elements.hpp"
#include "executor_item.hpp"
#include "lstmrt/error.hpp"
#include "row_ops.hpp"

namespace lstmrt::serving {
namespace {

// Copies one request's rows out of a batch output (layouts in executor.hpp), with `copy` being a
// host or device 2-D copy. Sequences (rows of T steps of C) are cut to the request's T_i steps;
// states (R, N, W) become (B, R, W).
template <typename Copy>
void copy_sequence_rows(Copy copy, void* dst, const void* src, int off, int B, int T_i, int T, int C, std::size_t e) {
  const std::size_t row = static_cast<std::size_t>(T) * C * e, mine = static_cast<std::size_t>(T_i) * C * e;
  copy(dst, mine, static_cast<const char*>(src) + off * row, row, mine, static_cast<std::size_t>(B));
}

template <typename Copy>
void copy_state_rows(Copy copy, void* dst, const void* src, int off, int B, int R, int N, int W, std::size_t e) {
  const std::size_t w = static_cast<std::size_t>(W) * e;
  for (int r = 0; r < R; ++r)
    copy(static_cast<char*>(dst) + r * w, R * w, static_cast<const char*>(src) + batch_index(r, off, 0, N, W) * e, w, w,
         static_cast<std::size_t>(B));
}

void host_copy_2d(void* dst, std::size_t dpitch, const void* src, std::size_t spitch, std::size_t width,
                  std::size_t rows) {
  for (std::size_t r = 0; r < rows; ++r)
    std::memcpy(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
}

}  // namespace

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

std::size_t TensorView::bytes() const {
  std::size_t b = 0;
  for (const Chunk& c : chunks) b += c.bytes;
  return b;
}

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

// One stage's batch buffers and, under the sequence batcher, its state pool.
struct Executor::StageBuffers {
  explicit StageBuffers(Device& d)
      : h_in_stage(d, DeviceBuffer::Side::kStaging),
        c_in_stage(d, DeviceBuffer::Side::kStaging),
        h_in(d, DeviceBuffer::Side::kDevice),
        c_in(d, DeviceBuffer::Side::kDevice),
        h_out(d, DeviceBuffer::Side::kDevice),
        c_out(d, DeviceBuffer::Side::kDevice),
        y(d, DeviceBuffer::Side::kDevice),
        merged(d, DeviceBuffer::Side::kDevice),
        h_pool(d, DeviceBuffer::Side::kDevice),
        c_pool(d, DeviceBuffer::Side::kDevice) {}
  DeviceBuffer h_in_stage, c_in_stage, h_in, c_in, h_out, c_out, y, merged, h_pool, c_pool;
};

Executor::Executor(const ServingConfig& config, const ServedModel& served, std::unique_ptr<Device> device,
                   const BackendOptions& options)
    : config_(config),
      served_(served),
      device_(std::move(device)),
      x_stage_(*device_, DeviceBuffer::Side::kStaging),
      x_dev_(*device_, DeviceBuffer::Side::kDevice),
      slots_stage_(*device_, DeviceBuffer::Side::kStaging),
      slots_dev_(*device_, DeviceBuffer::Side::kDevice),
      last_dev_(*device_, DeviceBuffer::Side::kDevice),
      last_merged_dev_(*device_, DeviceBuffer::Side::kDevice) {
  element_bytes_ = detail::element_bytes(options.data_type);
  for (const ImportedStage& stage : served_.model.stages) {
    lstms_.push_back(Lstm::create(stage.desc, stage.weights, options));
    stage_buffers_.push_back(std::make_unique<StageBuffers>(*device_));
  }
  const MemorySpace wanted = device_->is_host() ? MemorySpace::kHost : MemorySpace::kDevice;
  if (lstms_.front().memory_space() != wanted)
    throw Error(
        ErrorCode::kUnsupported,
        fmt::format("backend {} computes in {} memory but the instance runs on {}", lstms_.front().backend_name(),
                    wanted == MemorySpace::kHost ? "device" : "host", device_->name()));
  for (int i = 0; i < 3; ++i)
    downloads_.push_back(std::make_unique<DeviceBuffer>(*device_, DeviceBuffer::Side::kStaging));
  if (config_.sequence.enabled) {
    store_ = std::make_unique<SequenceStore>(config_.sequence.slots, config_.sequence.idle_microseconds);
    ensure_pool();
  }
  if (config_.reserve_steps > 0) {
    reserved_steps_ = config_.reserve_steps;
    reserved_rows_ = std::max(1, config_.max_batch_size);
    for (Lstm& l : lstms_) l.reserve(reserved_steps_, reserved_rows_);
  }
}

Executor::~Executor() {
  try {
    device_->synchronize();
  } catch (...) {
  }
}

std::string Executor::backend_name() const { return lstms_.front().backend_name(); }

std::string Executor::describe() const {
  return fmt::format("backend {} on {}, {} stage(s); {}", backend_name(), device_->name(), lstms_.size(),
                     lstms_.front().execution_plan(1, std::max(1, config_.max_batch_size)));
}

void Executor::ensure_pool() {
  if (!store_ || store_->capacity() <= pool_capacity_) return;
  const int capacity = store_->capacity();
  for (std::size_t s = 0; s < served_.stages.size(); ++s) {
    const StageGeometry& g = served_.stages[s];
    StageBuffers& b = *stage_buffers_[s];
    for (auto [pool, width] : {std::pair<DeviceBuffer*, int>{&b.h_pool, g.hidden_out}, {&b.c_pool, g.hidden}}) {
      const std::size_t slot_bytes = static_cast<std::size_t>(g.state_rows) * width * element_bytes_;
      DeviceBuffer grown(*device_, DeviceBuffer::Side::kDevice);
      grown.ensure(slot_bytes * capacity);
      if (pool_capacity_ > 0) device_->copy(grown.get(), pool->get(), slot_bytes * pool_capacity_);
      device_->synchronize();
      pool->swap(grown);
    }
  }
  pool_capacity_ = capacity;
}

std::vector<Outcome> Executor::run(const std::vector<ExecRequest>& requests, OutputSink& sink, BatchTiming* timing) {
  std::vector<Outcome> outcomes(requests.size());
  std::vector<Item> items;
  const std::uint64_t now_us = now_ns() / 1000;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    try {
      Item item = check(requests[i], i, now_us);
      if (!item.skip) items.push_back(std::move(item));
    } catch (const Error& e) {
      outcomes[i] = {false, e.code(), e.what(), false};
    }
  }
  if (timing) *timing = BatchTiming{};
  if (items.empty()) {
    if (store_) store_->commit(true);
    return outcomes;
  }
  try {
    ensure_pool();
    run_items(items, requests, sink, outcomes, timing);
    if (store_) store_->commit(true);
  } catch (const std::exception& ex) {
    if (store_) store_->commit(false);
    const Error* e = dynamic_cast<const Error*>(&ex);
    for (const Item& item : items)
      if (outcomes[item.index].ok)
        outcomes[item.index] = {false, e ? e->code() : ErrorCode::kInternal,
                                fmt::format("request {}: {}", requests[item.index].label, ex.what()), true};
    try {
      device_->synchronize();  // leave no copy in flight into buffers the next batch reuses
    } catch (...) {
    }
  }
  return outcomes;
}

void Executor::run_items(std::vector<Item>& items, const std::vector<ExecRequest>& requests, OutputSink& sink,
                         std::vector<Outcome>& outcomes, BatchTiming* timing) {
  Device& dev = *device_;
  dev.activate();  // Triton's thread for this instance; lstmrt's GPU backends guard their device too
  const std::size_t e = element_bytes_;
  const bool host = dev.is_host();
  const bool sequences = config_.sequence.enabled;
  const ImportedChain& model = served_.model;
  const int S = static_cast<int>(served_.stages.size());
  // Staging memory for a device buffer: the buffer itself on the host device.
  auto staging = [&](DeviceBuffer& stage, DeviceBuffer& device_side, std::size_t bytes) -> char* {
    return static_cast<char*>(host ? device_side.ensure(bytes) : stage.ensure(bytes));
  };

  // ---- layout ----
  int N = 0, T = 0;
  bool any_y = false, any_h = false, any_c = false, any_h0 = false, any_c0 = false, ragged = false;
  for (Item& item : items) {
    const ExecRequest& r = requests[item.index];
    item.offset = N;
    N += item.B;
    T = std::max(T, item.T);
    any_y |= r.want_y;
    any_h |= r.want_h_n;
    any_c |= r.want_c_n;
    any_h0 |= r.h0 != nullptr;
    any_c0 |= r.c0 != nullptr;
    ragged |= !item.lengths.empty();
  }
  for (const Item& item : items) ragged |= item.T != T;
  std::vector<std::int32_t> lengths;
  if (ragged) {
    lengths.resize(N);
    for (const Item& item : items)
      for (int b = 0; b < item.B; ++b) lengths[item.offset + b] = item.lengths.empty() ? item.T : item.lengths[b];
  }
  if (T > reserved_steps_ || N > reserved_rows_) {
    reserved_steps_ = std::max(T, reserved_steps_);
    reserved_rows_ = std::max(N, reserved_rows_);
    for (Lstm& l : lstms_) l.reserve(reserved_steps_, reserved_rows_);
  }

  // ---- x: (N, T, I), each request's rows right-padded with zeros ----
  const int I = served_.input_size();
  const std::size_t x_row = static_cast<std::size_t>(T) * I * e;
  char* xs = staging(x_stage_, x_dev_, N * x_row);
  void* xd = x_dev_.ensure(N * x_row);
  for (const Item& item : items) {
    ChunkReader reader(*requests[item.index].x, dev);
    const std::size_t mine = static_cast<std::size_t>(item.T) * I * e;
    for (int b = 0; b < item.B; ++b) {
      char* row = xs + (item.offset + b) * x_row;
      reader.read(row, mine);
      std::memset(row + mine, 0, x_row - mine);
    }
  }
  dev.copy(xd, xs, N * x_row);

  // ---- initial states: the request's h0/c0 (stage 0), zeros, or the sequence's stored state ----
  std::int32_t* read_slots = nullptr;
  std::int32_t* write_slots = nullptr;
  if (sequences) {
    auto* slots = reinterpret_cast<std::int32_t*>(staging(slots_stage_, slots_dev_, 2 * N * sizeof(std::int32_t)));
    for (const Item& item : items) {
      slots[item.offset] = item.claim.read_slot;
      slots[N + item.offset] = item.claim.write_slot;
    }
    auto* slots_dev = static_cast<std::int32_t*>(slots_dev_.ensure(2 * N * sizeof(std::int32_t)));
    dev.copy(slots_dev, slots, 2 * N * sizeof(std::int32_t));
    read_slots = slots_dev;
    write_slots = slots_dev + N;
  }
  std::vector<bool> has_h_in(S), has_c_in(S);
  for (int s = 0; s < S; ++s) {
    const StageGeometry& g = served_.stages[s];
    StageBuffers& b = *stage_buffers_[s];
    // lstmrt takes both initial states or neither: a request's missing one is zeros.
    const bool user[2] = {s == 0 && (any_h0 || any_c0), s == 0 && (any_h0 || any_c0)};
    DeviceBuffer* stage_side[2] = {&b.h_in_stage, &b.c_in_stage};
    DeviceBuffer* device_side[2] = {&b.h_in, &b.c_in};
    const int width[2] = {g.hidden_out, g.hidden};
    for (int k = 0; k < 2; ++k) {
      if (!user[k] && !sequences) continue;
      (k == 0 ? has_h_in : has_c_in)[s] = true;
      const std::size_t bytes = static_cast<std::size_t>(g.state_rows) * N * width[k] * e;
      void* d = device_side[k]->ensure(bytes);
      if (user[k]) {
        char* st = staging(*stage_side[k], *device_side[k], bytes);
        std::memset(st, 0, bytes);
        for (const Item& item : items) {
          const TensorView* t = k == 0 ? requests[item.index].h0 : requests[item.index].c0;
          if (!t) continue;
          ChunkReader reader(*t, dev);
          for (int row = 0; row < item.B; ++row)
            for (int r = 0; r < g.state_rows; ++r)
              reader.read(st + batch_index(r, item.offset + row, 0, N, width[k]) * e, width[k] * e);
        }
        dev.copy(d, st, bytes);
      } else {
        dev.zero(d, bytes);
      }
      if (sequences) {
        StateCopy c{(k == 0 ? b.h_pool : b.c_pool).get(), d, read_slots, g.state_rows, N, width[k], e};
        dev.gather_state(c);
      }
    }
  }

  // ---- the stages ----
  const std::uint64_t compute_start = now_ns();
  const void* input = xd;
  for (int s = 0; s < S; ++s) {
    const StageGeometry& g = served_.stages[s];
    const ImportedStage& stage = model.stages[s];
    StageBuffers& b = *stage_buffers_[s];
    const bool last = s == S - 1;
    const bool need_y = !last || (any_y && model.return_sequences);
    const bool need_h = sequences || (last && (any_h || (any_y && !model.return_sequences)));
    const bool need_c = sequences || (last && any_c);
    const std::size_t steps = static_cast<std::size_t>(N) * T;
    ForwardRequest req;
    req.seq_len = T;
    req.batch = N;
    req.layout = TensorLayout::kBatchMajor;
    req.x = input;
    req.lengths = lengths.empty() ? nullptr : lengths.data();
    req.h0 = has_h_in[s] ? b.h_in.get() : nullptr;
    req.c0 = has_c_in[s] ? b.c_in.get() : nullptr;
    req.y = need_y ? b.y.ensure(steps * g.y_width * e) : nullptr;
    req.h_n = need_h ? b.h_out.ensure(static_cast<std::size_t>(g.state_rows) * N * g.hidden_out * e) : nullptr;
    req.c_n = need_c ? b.c_out.ensure(static_cast<std::size_t>(g.state_rows) * N * g.hidden * e) : nullptr;
    req.padding = stage.padding;
    req.reverse_order = stage.reverse_order;
    lstms_[s].forward(req, dev.stream());
    input = req.y;
    if (need_y && g.merges) {
      void* merged = b.merged.ensure(steps * g.output_width * e);
      dev.merge_halves(stage.merge, req.y, merged, steps, g.hidden_out, config_.options.data_type);
      input = merged;
    }
    if (sequences) {
      dev.scatter_state({b.h_pool.get(), b.h_out.get(), write_slots, g.state_rows, N, g.hidden_out, e});
      dev.scatter_state({b.c_pool.get(), b.c_out.get(), write_slots, g.state_rows, N, g.hidden, e});
    }
  }
  // Without return_sequences the output is the last layer's final h per direction, [forward |
  // reverse] side by side (N, D·H_out), then merged like the sequence would be.
  const StageGeometry& lg = served_.last();
  StageBuffers& lb = *stage_buffers_.back();
  const void* y_source = input;
  if (any_y && !model.return_sequences) {
    void* lastd = last_dev_.ensure(static_cast<std::size_t>(N) * lg.y_width * e);
    const int first_row = lg.state_rows - lg.directions;  // layer L-1, direction 0
    const std::size_t w = static_cast<std::size_t>(lg.hidden_out) * e;
    for (int d = 0; d < lg.directions; ++d)
      dev.copy_2d(static_cast<char*>(lastd) + d * w, lg.y_width * e,
                  static_cast<const char*>(lb.h_out.get()) + batch_index(first_row + d, 0, 0, N, lg.hidden_out) * e, w,
                  w, N);
    y_source = lastd;
    if (lg.merges) {
      void* m = last_merged_dev_.ensure(static_cast<std::size_t>(N) * lg.output_width * e);
      dev.merge_halves(model.stages.back().merge, lastd, m, N, lg.hidden_out, config_.options.data_type);
      y_source = m;
    }
  }

  // ---- outputs: destinations first, device copies, then the host side after one sync ----
  const std::size_t y_bytes = static_cast<std::size_t>(N) * (model.return_sequences ? T : 1) * lg.output_width * e;
  const std::size_t h_bytes = static_cast<std::size_t>(lg.state_rows) * N * lg.hidden_out * e;
  const std::size_t c_bytes = static_cast<std::size_t>(lg.state_rows) * N * lg.hidden * e;
  const void* sources[3] = {y_source, lb.h_out.get(), lb.c_out.get()};
  const std::size_t source_bytes[3] = {y_bytes, h_bytes, c_bytes};
  struct HostCopy {
    int kind;
    const Item* item;
    void* dst;
  };
  std::vector<HostCopy> host_copies;
  bool download[3] = {false, false, false};
  auto device_copy = [&](void* d, std::size_t dp, const void* s, std::size_t sp, std::size_t w, std::size_t rows) {
    dev.copy_2d(d, dp, s, sp, w, rows);
  };
  auto write = [&](auto copy, int kind, const Item& item, void* dst, const void* src) {
    if (kind == 0) {
      if (model.return_sequences)
        copy_sequence_rows(copy, dst, src, item.offset, item.B, item.T, T, lg.output_width, e);
      else
        copy_sequence_rows(copy, dst, src, item.offset, item.B, 1, 1, lg.output_width, e);
    } else {
      copy_state_rows(copy, dst, src, item.offset, item.B, lg.state_rows, N, kind == 1 ? lg.hidden_out : lg.hidden, e);
    }
  };
  for (const Item& item : items) {
    const ExecRequest& r = requests[item.index];
    const std::int64_t B = item.B;
    const bool wanted[3] = {r.want_y, r.want_h_n, r.want_c_n};
    const char* names[3] = {"y", "h_n", "c_n"};
    const std::vector<std::int64_t> shapes[3] = {model.return_sequences
                                                     ? std::vector<std::int64_t>{B, item.T, lg.output_width}
                                                     : std::vector<std::int64_t>{B, lg.output_width},
                                                 {B, lg.state_rows, lg.hidden_out},
                                                 {B, lg.state_rows, lg.hidden}};
    try {
      for (int k = 0; k < 3; ++k) {
        if (!wanted[k]) continue;
        std::size_t bytes = e;
        for (std::int64_t d : shapes[k]) bytes *= static_cast<std::size_t>(d);
        const OutputSink::Destination dst = sink.output(item.index, names[k], shapes[k], bytes);
        if (dst.on_device && !host) {
          write(device_copy, k, item, dst.data, sources[k]);
        } else {
          host_copies.push_back({k, &item, dst.data});
          download[k] = true;
        }
      }
    } catch (const Error& err) {
      outcomes[item.index] = {false, err.code(), fmt::format("request {}: {}", r.label, err.what()), true};
    }
    outcomes[item.index].computed = true;
  }
  const void* host_sources[3] = {sources[0], sources[1], sources[2]};
  if (!host)
    for (int k = 0; k < 3; ++k)
      if (download[k]) {
        void* st = downloads_[k]->ensure(source_bytes[k]);
        dev.copy(st, sources[k], source_bytes[k]);
        host_sources[k] = st;
      }
  dev.synchronize();
  for (Lstm& l : lstms_) l.check_persistent_status();
  const std::uint64_t compute_end = now_ns();
  for (const HostCopy& c : host_copies)
    if (outcomes[c.item->index].ok) write(host_copy_2d, c.kind, *c.item, c.dst, host_sources[c.kind]);
  if (timing) *timing = BatchTiming{compute_start, compute_end, N};
}

}  // namespace lstmrt::serving
