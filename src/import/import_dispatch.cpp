#include "import/import_dispatch.hpp"

#include <fmt/format.h>

#include "import/model_format.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt::import_detail {
namespace {

// A Keras model as plain weights, when it is one LSTM layer over the model's input that runs
// like an .npz would (no mask, no initial state from the graph, the whole sequence, halves
// concatenated, outputs in original time order).
LoadedWeights single_layer(const ImportedModel& model) {
  const ImportedNode* lstm = nullptr;
  int lstm_count = 0;
  for (const ImportedNode& n : model.nodes)
    if (n.kind == NodeKind::kLstm) lstm = &n, ++lstm_count;
  const bool plain = lstm_count == 1 && model.nodes.size() == 1 && model.is_chain() && !lstm->mask &&
                     lstm->return_sequences && lstm->merge == MergeMode::kConcat &&
                     lstm->reverse_order == ReverseOutputOrder::kOriginal;
  if (!plain)
    throw Error(ErrorCode::kUnsupported,
                fmt::format("{}: this Keras model is {} layer(s) with masking, go_backwards, merging, wiring or a last "
                            "output only: load it with load_keras_model and run_model",
                            model.source, model.nodes.size()));
  return LoadedWeights{lstm->desc, lstm->weights, "keras", std::nullopt};  // Keras: the caller picks the layout
}

}  // namespace

std::optional<LoadedWeights> load_imported_weights(const std::string& path) {
  const ModelFormat format = sniff_model_format(path);
  switch (format) {
    case ModelFormat::kNpz: return std::nullopt;
    // A state_dict in safetensors is PyTorch naming: the .npz scheme detection converts it.
    case ModelFormat::kSafetensors: return weights_from_arrays(load_safetensors(path), path);
    case ModelFormat::kOnnx: return load_onnx_weights(path);
    case ModelFormat::kKeras:
    case ModelFormat::kHdf5: return single_layer(load_keras_model(path));
    default: refuse_model_format(path, format);
  }
}

}  // namespace lstmrt::import_detail
