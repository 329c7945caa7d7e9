// lstmrt — running an imported model (import.hpp's ImportedModel) on the host: every node in
// evaluation order, each LSTM node one lstmrt Lstm. The readers of import.hpp do not depend on
// this; it is built from src/keras_run/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lstmrt/import.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt {

// A host float32 tensor, row-major.
struct HostTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};
// A read-only view of caller memory.
struct HostTensorView {
  std::vector<std::int64_t> shape;
  const float* values = nullptr;
};

// What run_model returns: every model output in model.outputs order, in Keras's shapes — a
// sequence (N, T, C) batch-major or (T, N, C) time-major as the inputs, a last output or a state
// (N, C) — named after the layer that produces it ("lstm_1", and "lstm_1:k" for its k-th output).
// For a chain model (ImportedModel::is_chain) also its last LSTM's final states, h_n (D, N, H_out)
// and c_n (D, N, H), whether or not the model returns them.
struct ModelOutputs {
  std::vector<HostTensor> outputs;
  HostTensor h_n, c_n;  // chain models only; empty otherwise
};

// Runs every node on the host with `options`. `inputs` are in model.inputs order: sequences
// (T, N, width) or (N, T, width) per `layout` — each input its own T, one N for all — and rank-2
// inputs (N, width). `lengths` (N) — right padding of the one sequence input — only for chain
// models without a Masking layer (kInvalidArgument otherwise: the model's Masking sets the mask).
// Throws kInvalidArgument naming the input whose count, rank or shape is wrong.
ModelOutputs run_model(const ImportedModel& model, const BackendOptions& options, TensorLayout layout,
                       const std::vector<HostTensorView>& inputs, const std::int32_t* lengths = nullptr);

}  // namespace lstmrt
