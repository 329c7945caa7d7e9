// load_weights and load_weight_arrays: the one dispatcher from a weights file to its reader. The
// reader is chosen by content (file_format.hpp); the readers (npz.cpp, safetensors.cpp,
// onnx_graph.cpp, keras_model.cpp) return what they read and never call back here, and the
// arrays of an .npz or a .safetensors file go through the naming schemes of weight_names.cpp.
#include <fmt/format.h>

#include "formats/file_format.hpp"
#include "lstmrt/import.hpp"
#include "lstmrt/io.hpp"

namespace lstmrt {
namespace {

using formats_detail::FileFormat;

constexpr char kWeightFormats[] = "an .npz (numpy.savez), .safetensors, .onnx, .keras or .weights.h5 (Keras) file";

FileFormat weights_reader(const std::string& path) {
  return formats_detail::choose_reader(
      path, {FileFormat::kNpz, FileFormat::kSafetensors, FileFormat::kOnnx, FileFormat::kKeras, FileFormat::kHdf5},
      kWeightFormats, "model file");
}

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

std::optional<ArrayMap> load_weight_arrays(const std::string& path) {
  switch (weights_reader(path)) {
    case FileFormat::kNpz: return load_npz(path);
    case FileFormat::kSafetensors: return load_safetensors(path);
    default: return std::nullopt;  // an ONNX or Keras model: its weights come from its graph
  }
}

LoadedWeights load_weights(const std::string& path) {
  switch (weights_reader(path)) {
    // A state_dict in safetensors is PyTorch naming: the .npz scheme detection converts it.
    case FileFormat::kNpz: return weights_from_arrays(load_npz(path), path);
    case FileFormat::kSafetensors: return weights_from_arrays(load_safetensors(path), path);
    case FileFormat::kOnnx: return load_onnx_weights(path);
    default: return single_layer(load_keras_model(path));  // kKeras, kHdf5
  }
}

}  // namespace lstmrt
