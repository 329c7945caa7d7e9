#include "import/import_dispatch.hpp"

#include <fmt/format.h>

#include "import/model_format.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt::import_detail {
namespace {

// A Keras model as plain weights, when it is one stage that runs like an .npz would.
LoadedWeights single_stage(ImportedModel model) {
  const ImportedStage& s = model.stages.front();
  if (model.stages.size() != 1 || model.masking || !model.return_sequences || s.merge != MergeMode::kConcat ||
      s.reverse_order != ReverseOutputOrder::kOriginal)
    throw Error(ErrorCode::kUnsupported,
                fmt::format("{}: this Keras model is {} stage(s) with masking, go_backwards, merging or a last "
                            "output only: load it with load_keras_model and run_model",
                            model.source, model.stages.size()));
  return LoadedWeights{s.desc, s.weights, "keras", std::nullopt};  // Keras: the caller picks the layout
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
    case ModelFormat::kHdf5: return single_stage(load_keras_model(path));
    default: refuse_model_format(path, format);
  }
}

}  // namespace lstmrt::import_detail
