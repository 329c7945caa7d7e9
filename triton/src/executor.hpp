// Runs one batch of requests on one model instance: checks each request, packs the good ones
// into one batch-major forward per stage, keeps sequences' states in the state pool, and writes
// each request's requested outputs. Knows nothing of Triton's objects (triton_backend.cpp turns
// them into ExecRequests and an OutputSink), so the CPU tests drive it directly.
//
// Packing: request i with B_i rows of T_i steps occupies batch rows [off_i, off_i + B_i) of a
// batch (N = Σ B_i, T = max T_i); its rows are right-padded to T and run with lengths T_i (or its
// own, smaller, lengths), which gives each row exactly the answer it has alone: padded steps are
// never read, and y is cut back to T_i steps.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "device.hpp"
#include "sequence_store.hpp"
#include "served_model.hpp"
#include "serving_config.hpp"

namespace lstmrt::serving {

// A tensor as a request carries it: its shape (batch dimension first) and its bytes, in pieces
// that follow one another, each in host or device memory.
struct TensorView {
  struct Chunk {
    const void* data = nullptr;
    std::size_t bytes = 0;
    bool on_device = false;
  };
  std::optional<DataType> type;  // empty: a Triton type lstmrt has none for
  std::string type_name;         // Triton's name ("FP32"), for messages
  std::vector<std::int64_t> shape;
  std::vector<Chunk> chunks;
  std::size_t bytes() const;
  std::int64_t numel() const;
};

struct ExecRequest {
  std::string label;  // names the request in messages
  const TensorView* x = nullptr;
  const TensorView* lengths = nullptr;
  const TensorView* h0 = nullptr;
  const TensorView* c0 = nullptr;
  bool want_y = false, want_h_n = false, want_c_n = false;
  // Under the sequence batcher: the correlation ID and the START / END flags.
  bool in_sequence = false;
  SequenceKey key;
  bool start = false, end = false;
};

// Where request `index`'s output goes: called once per requested output, in request order,
// before any data is written; returns memory of `bytes` bytes (host or device).
class OutputSink {
 public:
  struct Destination {
    void* data = nullptr;
    bool on_device = false;
  };
  virtual ~OutputSink() = default;
  virtual Destination output(std::size_t index, const std::string& name, const std::vector<std::int64_t>& shape,
                             std::size_t bytes) = 0;
};

struct Outcome {
  bool ok = true;
  ErrorCode code = ErrorCode::kInvalidArgument;
  std::string message;
  bool computed = false;  // took part in the forward
};

struct BatchTiming {
  std::uint64_t compute_start_ns = 0, compute_end_ns = 0;
  int batch_rows = 0;  // N of the forward (0 when nothing ran)
};

std::uint64_t now_ns();  // steady clock, as Triton's statistics expect

class Executor {
 public:
  // `options` as the instance runs them: kind reference for the host device, a GPU backend and
  // device ordinal for a CUDA device. Creates one lstmrt::Lstm per stage; throws lstmrt::Error
  // when the backend cannot serve the model.
  Executor(const ServingConfig& config, const ServedModel& served, std::unique_ptr<Device> device,
           const BackendOptions& options);
  ~Executor();

  std::vector<Outcome> run(const std::vector<ExecRequest>& requests, OutputSink& sink, BatchTiming* timing = nullptr);

  std::string backend_name() const;
  std::string describe() const;  // backend, device, execution plan of the first stage
  const SequenceStore* sequences() const { return store_.get(); }

 private:
  struct Item;
  struct StageBuffers;
  Item check(const ExecRequest& r, std::size_t index, std::uint64_t now_us);
  void ensure_pool();
  void run_items(std::vector<Item>& items, const std::vector<ExecRequest>& requests, OutputSink& sink,
                 std::vector<Outcome>& outcomes, BatchTiming* timing);
  std::vector<std::uint8_t> read_to_host(const TensorView& t);

  const ServingConfig& config_;
  const ServedModel& served_;
  std::unique_ptr<Device> device_;
  std::vector<Lstm> lstms_;
  std::vector<std::unique_ptr<StageBuffers>> stage_buffers_;
  std::unique_ptr<SequenceStore> store_;
  int pool_capacity_ = 0;  // slots the pool buffers hold
  std::size_t element_bytes_ = 4;
  int reserved_steps_ = 0, reserved_rows_ = 0;
  // Batch buffers: staging (host side) and device side of x, lengths are host, slot lists.
  DeviceBuffer x_stage_, x_dev_, slots_stage_, slots_dev_, last_dev_, last_merged_dev_;
  std::vector<std::unique_ptr<DeviceBuffer>> downloads_;  // one per output kind (y, h_n, c_n)
};

}  // namespace lstmrt::serving
