// libtriton_lstmrt.so: the Triton backend entry points. Turns Triton's model, instance and request
// objects into lstmrt's serving pieces (serving_config, served_model, executor) and answers every
// request, with an error response for a bad one while the rest of its batch goes on.
#include <fmt/format.h>

#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "executor.hpp"
#include "lstmrt/error.hpp"
#include "lstmrt/lstm.hpp"
#include "lstmrt/version.hpp"
#include "served_model.hpp"
#include "serving_config.hpp"
#include "triton_api.hpp"
#include "triton_types.hpp"

namespace lstmrt::serving {
namespace {

TRITONSERVER_Error_Code triton_code(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return TRITONSERVER_ERROR_INVALID_ARG;
    case ErrorCode::kUnsupported: return TRITONSERVER_ERROR_UNSUPPORTED;
    case ErrorCode::kNoDevice: return TRITONSERVER_ERROR_UNAVAILABLE;
    case ErrorCode::kIoError: return TRITONSERVER_ERROR_INVALID_ARG;
    case ErrorCode::kCudaError:
    case ErrorCode::kInternal: break;
  }
  return TRITONSERVER_ERROR_INTERNAL;
}

TRITONSERVER_Error* to_triton(const std::exception& ex) {
  if (const auto* e = dynamic_cast<const Error*>(&ex)) return TRITONSERVER_ErrorNew(triton_code(e->code()), e->what());
  return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_INTERNAL, ex.what());
}

// A failed server call becomes an lstmrt::Error naming the call.
void check(TRITONSERVER_Error* err, const char* call) {
  if (!err) return;
  const std::string message = fmt::format("{}: {}", call, TRITONSERVER_ErrorMessage(err));
  TRITONSERVER_ErrorDelete(err);
  throw Error(ErrorCode::kInternal, message);
}

void log(TRITONSERVER_LogLevel level, const std::string& message) {
  if (!TRITONSERVER_LogIsEnabled(level)) return;
  TRITONSERVER_Error* err = TRITONSERVER_LogMessage(level, __FILE__, __LINE__, message.c_str());
  if (err) TRITONSERVER_ErrorDelete(err);
}

// Runs `body`, turning an exception into the error object the server expects.
template <typename Body>
TRITONSERVER_Error* guarded(Body body) {
  try {
    body();
    return nullptr;
  } catch (const std::exception& ex) {
    return to_triton(ex);
  }
}

struct ModelState {
  ServingConfig config;
  ServedModel served;
};

struct InstanceState {
  std::string name;
  ModelState* model = nullptr;
  bool gpu = false;
  int device_id = 0;
  std::unique_ptr<Executor> executor;
  int pool_slots = 0;  // sequence state slots last reported
};

// One request's tensors as views on Triton's buffers (valid until the request is released).
struct ParsedRequest {
  TensorView x, lengths, h0, c0;
  ExecRequest exec;
};

void parse_request(TRITONBACKEND_Request* request, std::size_t index, const ServingConfig& config, ParsedRequest& p) {
  const char* id = nullptr;
  check(TRITONBACKEND_RequestId(request, &id), "TRITONBACKEND_RequestId");
  p.exec.label = id && *id ? fmt::format("'{}'", id) : fmt::format("#{} of the batch", index);
  std::uint32_t inputs = 0;
  check(TRITONBACKEND_RequestInputCount(request, &inputs), "TRITONBACKEND_RequestInputCount");
  for (std::uint32_t i = 0; i < inputs; ++i) {
    TRITONBACKEND_Input* input = nullptr;
    check(TRITONBACKEND_RequestInputByIndex(request, i, &input), "TRITONBACKEND_RequestInputByIndex");
    const char* name = nullptr;
    TRITONSERVER_DataType type;
    const std::int64_t* shape = nullptr;
    std::uint32_t dims = 0, buffers = 0;
    std::uint64_t bytes = 0;
    check(TRITONBACKEND_InputProperties(input, &name, &type, &shape, &dims, &bytes, &buffers),
          "TRITONBACKEND_InputProperties");
    const std::string n = name;
    TensorView* view = n == "x" ? &p.x : n == "lengths" ? &p.lengths : n == "h0" ? &p.h0 : n == "c0" ? &p.c0 : nullptr;
    if (!view) continue;  // a sequence batcher control input: START/END/CORRID come from the request itself
    view->type = data_type_from_triton(type);
    view->type_name = triton_name(type);
    view->shape.assign(shape, shape + dims);
    for (std::uint32_t b = 0; b < buffers; ++b) {
      const void* data = nullptr;
      std::uint64_t size = 0;
      TRITONSERVER_MemoryType memory = TRITONSERVER_MEMORY_CPU;
      std::int64_t memory_id = 0;
      check(TRITONBACKEND_InputBuffer(input, b, &data, &size, &memory, &memory_id), "TRITONBACKEND_InputBuffer");
      view->chunks.push_back({data, static_cast<std::size_t>(size), memory == TRITONSERVER_MEMORY_GPU});
    }
    (n == "x" ? p.exec.x : n == "lengths" ? p.exec.lengths : n == "h0" ? p.exec.h0 : p.exec.c0) = view;
  }
  std::uint32_t outputs = 0;
  check(TRITONBACKEND_RequestOutputCount(request, &outputs), "TRITONBACKEND_RequestOutputCount");
  for (std::uint32_t i = 0; i < outputs; ++i) {
    const char* name = nullptr;
    check(TRITONBACKEND_RequestOutputName(request, i, &name), "TRITONBACKEND_RequestOutputName");
    const std::string n = name;
    p.exec.want_y |= n == "y";
    p.exec.want_h_n |= n == "h_n";
    p.exec.want_c_n |= n == "c_n";
  }
  if (config.sequence.enabled) {
    p.exec.in_sequence = true;
    std::uint32_t flags = 0;
    check(TRITONBACKEND_RequestFlags(request, &flags), "TRITONBACKEND_RequestFlags");
    p.exec.start = (flags & TRITONSERVER_REQUEST_FLAG_SEQUENCE_START) != 0;
    p.exec.end = (flags & TRITONSERVER_REQUEST_FLAG_SEQUENCE_END) != 0;
    std::uint64_t number = 0;
    TRITONSERVER_Error* err = TRITONBACKEND_RequestCorrelationId(request, &number);
    if (!err) {
      p.exec.key = SequenceKey::of(number);
    } else {  // the correlation ID is a string
      TRITONSERVER_ErrorDelete(err);
      const char* text = nullptr;
      check(TRITONBACKEND_RequestCorrelationIdString(request, &text), "TRITONBACKEND_RequestCorrelationIdString");
      p.exec.key = SequenceKey::of(std::string(text ? text : ""));
    }
  }
}

// Outputs go into each request's response, in the memory Triton hands out (GPU instances ask for
// their own GPU; HTTP/gRPC clients without CUDA shared memory get host memory).
class ResponseSink final : public OutputSink {
 public:
  ResponseSink(std::vector<TRITONBACKEND_Response*>& responses, const std::vector<std::size_t>& request_of,
               const InstanceState& instance)
      : responses_(responses), request_of_(request_of), instance_(instance) {}

  Destination output(std::size_t index, const std::string& name, const std::vector<std::int64_t>& shape,
                     std::size_t bytes) override {
    TRITONBACKEND_Response* response = responses_[request_of_[index]];
    if (!response) throw Error(ErrorCode::kInternal, "the request has no response object");
    TRITONBACKEND_Output* output = nullptr;
    check(TRITONBACKEND_ResponseOutput(response, &output, name.c_str(),
                                       triton_type(instance_.model->config.options.data_type), shape.data(),
                                       static_cast<std::uint32_t>(shape.size())),
          "TRITONBACKEND_ResponseOutput");
    void* buffer = nullptr;
    TRITONSERVER_MemoryType memory = instance_.gpu ? TRITONSERVER_MEMORY_GPU : TRITONSERVER_MEMORY_CPU;
    std::int64_t memory_id = instance_.gpu ? instance_.device_id : 0;
    check(TRITONBACKEND_OutputBuffer(output, &buffer, bytes, &memory, &memory_id), "TRITONBACKEND_OutputBuffer");
    if (memory == TRITONSERVER_MEMORY_GPU && !instance_.gpu)
      throw Error(ErrorCode::kUnsupported, fmt::format("output '{}' was given GPU memory: a KIND_CPU instance writes "
                                                       "host memory",
                                                       name));
    if (memory == TRITONSERVER_MEMORY_GPU && memory_id != instance_.device_id)
      throw Error(ErrorCode::kUnsupported, fmt::format("output '{}' was given memory of GPU {}: the instance runs on "
                                                       "GPU {}",
                                                       name, memory_id, instance_.device_id));
    return {buffer, memory == TRITONSERVER_MEMORY_GPU};
  }

 private:
  std::vector<TRITONBACKEND_Response*>& responses_;
  const std::vector<std::size_t>& request_of_;
  const InstanceState& instance_;
};

}  // namespace
}  // namespace lstmrt::serving

using namespace lstmrt::serving;

extern "C" {

TRITONSERVER_Error* TRITONBACKEND_Initialize(TRITONBACKEND_Backend*) {
  return guarded([&] {
    std::uint32_t major = 0, minor = 0;
    check(TRITONBACKEND_ApiVersion(&major, &minor), "TRITONBACKEND_ApiVersion");
    if (major != kTritonBackendApiMajor || minor < kTritonBackendApiMinor)
      throw lstmrt::Error(
          lstmrt::ErrorCode::kUnsupported,
          fmt::format("lstmrt backend: the server's backend API is {}.{}: expected {}.{} or a later {}.x", major, minor,
                      kTritonBackendApiMajor, kTritonBackendApiMinor, kTritonBackendApiMajor));
    // gpu_available() probes the driver only; cuDNN/cuBLAS and lstmrt's GPU module load with the
    // first KIND_GPU instance.
    log(TRITONSERVER_LOG_INFO, fmt::format("lstmrt {} backend (backend API {}.{}, server {}.{}); GPU here: {}",
                                           lstmrt::version(), kTritonBackendApiMajor, kTritonBackendApiMinor, major,
                                           minor, lstmrt::gpu_available() ? "yes" : "no"));
  });
}

TRITONSERVER_Error* TRITONBACKEND_Finalize(TRITONBACKEND_Backend*) { return nullptr; }

TRITONSERVER_Error* TRITONBACKEND_ModelInitialize(TRITONBACKEND_Model* model) {
  return guarded([&] {
    TRITONSERVER_Message* message = nullptr;
    check(TRITONBACKEND_ModelConfig(model, 1, &message), "TRITONBACKEND_ModelConfig");
    const char* json = nullptr;
    std::size_t json_bytes = 0;
    TRITONSERVER_Error* err = TRITONSERVER_MessageSerializeToJson(message, &json, &json_bytes);
    std::string text = err ? std::string() : std::string(json, json_bytes);
    TRITONSERVER_Error* deleted = TRITONSERVER_MessageDelete(message);
    if (deleted) TRITONSERVER_ErrorDelete(deleted);
    check(err, "TRITONSERVER_MessageSerializeToJson");
    log(TRITONSERVER_LOG_VERBOSE, "lstmrt: model configuration " + text);

    auto state = std::make_unique<ModelState>();
    state->config = parse_serving_config(text);
    const char* location = nullptr;
    TRITONBACKEND_ArtifactType artifact = TRITONBACKEND_ARTIFACT_FILESYSTEM;
    check(TRITONBACKEND_ModelRepository(model, &artifact, &location), "TRITONBACKEND_ModelRepository");
    std::uint64_t version = 0;
    check(TRITONBACKEND_ModelVersion(model, &version), "TRITONBACKEND_ModelVersion");
    const std::string path = fmt::format("{}/{}/{}", location, version, state->config.model_file);
    state->served = load_served_model(path);
    check_tensors(state->config, state->served);
    log(TRITONSERVER_LOG_INFO,
        fmt::format("lstmrt: model '{}' version {}: {}", state->config.model_name, version, state->served.describe()));
    check(TRITONBACKEND_ModelSetState(model, state.get()), "TRITONBACKEND_ModelSetState");
    state.release();
  });
}

TRITONSERVER_Error* TRITONBACKEND_ModelFinalize(TRITONBACKEND_Model* model) {
  return guarded([&] {
    void* state = nullptr;
    check(TRITONBACKEND_ModelState(model, &state), "TRITONBACKEND_ModelState");
    delete static_cast<ModelState*>(state);
  });
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceInitialize(TRITONBACKEND_ModelInstance* instance) {
  return guarded([&] {
    auto state = std::make_unique<InstanceState>();
    const char* name = nullptr;
    check(TRITONBACKEND_ModelInstanceName(instance, &name), "TRITONBACKEND_ModelInstanceName");
    state->name = name ? name : "";
    TRITONBACKEND_Model* model = nullptr;
    check(TRITONBACKEND_ModelInstanceModel(instance, &model), "TRITONBACKEND_ModelInstanceModel");
    void* model_state = nullptr;
    check(TRITONBACKEND_ModelState(model, &model_state), "TRITONBACKEND_ModelState");
    state->model = static_cast<ModelState*>(model_state);
    TRITONSERVER_InstanceGroupKind kind = TRITONSERVER_INSTANCEGROUPKIND_AUTO;
    check(TRITONBACKEND_ModelInstanceKind(instance, &kind), "TRITONBACKEND_ModelInstanceKind");
    std::int32_t device_id = 0;
    check(TRITONBACKEND_ModelInstanceDeviceId(instance, &device_id), "TRITONBACKEND_ModelInstanceDeviceId");

    const ServingConfig& config = state->model->config;
    lstmrt::BackendOptions options = config.options;
    std::unique_ptr<Device> device;
    if (kind == TRITONSERVER_INSTANCEGROUPKIND_CPU) {
      if (options.data_type != lstmrt::DataType::kFloat32)
        throw lstmrt::Error(lstmrt::ErrorCode::kUnsupported,
                            fmt::format("instance '{}' is KIND_CPU: the reference backend computes float32; dtype {} "
                                        "needs KIND_GPU instances",
                                        state->name, lstmrt::to_string(options.data_type)));
      options.kind = lstmrt::BackendKind::kReference;
      device = host_device();
    } else if (kind == TRITONSERVER_INSTANCEGROUPKIND_GPU) {
      if (options.kind == lstmrt::BackendKind::kReference)
        throw lstmrt::Error(lstmrt::ErrorCode::kInvalidArgument,
                            fmt::format("instance '{}' is KIND_GPU: parameter backend is reference: expected auto, "
                                        "cudnn or fused (KIND_CPU instances run the reference backend)",
                                        state->name));
      options.device = device_id;
      state->gpu = true;
      state->device_id = device_id;
      device = cuda_device(device_id);
    } else {
      throw lstmrt::Error(
          lstmrt::ErrorCode::kUnsupported,
          fmt::format("instance '{}' has kind {}: expected KIND_CPU or KIND_GPU", state->name, static_cast<int>(kind)));
    }
    state->executor = std::make_unique<Executor>(config, state->model->served, std::move(device), options);
    log(TRITONSERVER_LOG_INFO, fmt::format("lstmrt: instance '{}': {}", state->name, state->executor->describe()));
    check(TRITONBACKEND_ModelInstanceSetState(instance, state.get()), "TRITONBACKEND_ModelInstanceSetState");
    state.release();
  });
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceFinalize(TRITONBACKEND_ModelInstance* instance) {
  return guarded([&] {
    void* state = nullptr;
    check(TRITONBACKEND_ModelInstanceState(instance, &state), "TRITONBACKEND_ModelInstanceState");
    delete static_cast<InstanceState*>(state);
  });
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceExecute(TRITONBACKEND_ModelInstance* instance,
                                                       TRITONBACKEND_Request** requests, const std::uint32_t count) {
  const std::uint64_t exec_start = now_ns();
  void* state_ptr = nullptr;
  if (TRITONSERVER_Error* err = TRITONBACKEND_ModelInstanceState(instance, &state_ptr)) return err;
  InstanceState& state = *static_cast<InstanceState*>(state_ptr);

  // From here on the backend owns the requests: each gets one response and is released.
  std::vector<TRITONBACKEND_Response*> responses(count, nullptr);
  std::vector<std::unique_ptr<ParsedRequest>> parsed(count);
  std::vector<Outcome> outcomes(count);
  std::vector<ExecRequest> batch;
  std::vector<std::size_t> request_of;
  for (std::uint32_t i = 0; i < count; ++i) {
    TRITONSERVER_Error* err = TRITONBACKEND_ResponseNew(&responses[i], requests[i]);
    if (err) {
      log(TRITONSERVER_LOG_ERROR, fmt::format("lstmrt: no response for a request: {}", TRITONSERVER_ErrorMessage(err)));
      TRITONSERVER_ErrorDelete(err);
      responses[i] = nullptr;
      continue;
    }
    try {
      parsed[i] = std::make_unique<ParsedRequest>();
      parse_request(requests[i], i, state.model->config, *parsed[i]);
      batch.push_back(parsed[i]->exec);
      request_of.push_back(i);
    } catch (const std::exception& ex) {
      const auto* e = dynamic_cast<const lstmrt::Error*>(&ex);
      outcomes[i] = {false, e ? e->code() : lstmrt::ErrorCode::kInternal, ex.what(), false};
    }
  }

  ResponseSink sink(responses, request_of, state);
  BatchTiming timing;
  try {
    const std::vector<Outcome> results = state.executor->run(batch, sink, &timing);
    for (std::size_t k = 0; k < results.size(); ++k) outcomes[request_of[k]] = results[k];
  } catch (const std::exception& ex) {
    for (std::size_t i : request_of) outcomes[i] = {false, lstmrt::ErrorCode::kInternal, ex.what(), false};
  }
  // More live sequences than Triton's slot count means ended or cancelled sequences were not seen
  // (ended ones free their slot): worth a line in the log.
  if (const SequenceStore* store = state.executor->sequences()) {
    if (state.pool_slots && store->capacity() > state.pool_slots)
      log(TRITONSERVER_LOG_WARN,
          fmt::format("lstmrt: instance '{}': the sequence state pool grew to {} slots for {} live sequences "
                      "(configured {}): sequences ended without END or were cancelled",
                      state.name, store->capacity(), store->active(), state.model->config.sequence.slots));
    state.pool_slots = store->capacity();
  }
  const std::uint64_t exec_end = now_ns();
  const std::uint64_t compute_start = timing.batch_rows ? timing.compute_start_ns : exec_start;
  const std::uint64_t compute_end = timing.batch_rows ? timing.compute_end_ns : exec_end;

  for (std::uint32_t i = 0; i < count; ++i) {
    const Outcome& o = outcomes[i];
    if (responses[i]) {
      TRITONSERVER_Error* error = o.ok ? nullptr : TRITONSERVER_ErrorNew(triton_code(o.code), o.message.c_str());
      TRITONSERVER_Error* err = TRITONBACKEND_ResponseSend(responses[i], TRITONSERVER_RESPONSE_COMPLETE_FINAL, error);
      if (error) TRITONSERVER_ErrorDelete(error);
      if (err) {
        log(TRITONSERVER_LOG_ERROR, fmt::format("lstmrt: sending a response: {}", TRITONSERVER_ErrorMessage(err)));
        TRITONSERVER_ErrorDelete(err);
      }
    }
    if (TRITONSERVER_Error* err = TRITONBACKEND_ModelInstanceReportStatistics(instance, requests[i], o.ok, exec_start,
                                                                              compute_start, compute_end, exec_end))
      TRITONSERVER_ErrorDelete(err);
    if (TRITONSERVER_Error* err = TRITONBACKEND_RequestRelease(requests[i], TRITONSERVER_REQUEST_RELEASE_ALL)) {
      log(TRITONSERVER_LOG_ERROR, fmt::format("lstmrt: releasing a request: {}", TRITONSERVER_ErrorMessage(err)));
      TRITONSERVER_ErrorDelete(err);
    }
  }
  if (timing.batch_rows > 0)
    if (TRITONSERVER_Error* err = TRITONBACKEND_ModelInstanceReportBatchStatistics(
            instance, static_cast<std::uint64_t>(timing.batch_rows), exec_start, compute_start, compute_end, exec_end))
      TRITONSERVER_ErrorDelete(err);
  return nullptr;
}

}  // extern "C"
