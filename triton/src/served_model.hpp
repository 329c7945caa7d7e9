// The model a Triton model serves: an lstmrt model file loaded as a chain of stages (one stage for
// .npz / .safetensors / .onnx; a Keras model may have several, see lstmrt/import.hpp), the sizes
// its tensors have, and the check that the configuration's tensors fit them.
#pragma once

#include <string>
#include <vector>

#include "lstmrt/import.hpp"
#include "serving_config.hpp"

namespace lstmrt::serving {

// Sizes of one stage (letters as in lstmrt/model.hpp).
struct StageGeometry {
  int input_width = 0;   // I of this stage: the model's I, or the previous stage's output width
  int state_rows = 0;    // L·D: rows of h0/h_n and c0/c_n
  int directions = 1;    // D
  int hidden = 0;        // H: width of c
  int hidden_out = 0;    // H_out: width of h
  int y_width = 0;       // D·H_out: width of the stage's y as lstmrt writes it
  int output_width = 0;  // width after merging the directions (y_width for concat, H_out otherwise)
  bool merges = false;   // a bidirectional stage whose halves are summed, averaged or multiplied
};

struct ServedModel {
  ImportedChain model;                // the stages; for non-Keras files one stage, return_sequences
  std::vector<StageGeometry> stages;  // one per model.stages entry

  int input_size() const { return stages.front().input_width; }
  const StageGeometry& last() const { return stages.back(); }
  // Width of y per step (return_sequences) or of the one output row (without).
  int output_width() const { return last().output_width; }
  std::string describe() const;  // one line per stage, for the server log
};

// Loads `path` (dispatching on the extension like `lstmrt run --weights`). Throws lstmrt::Error
// naming the file and what is wrong.
ServedModel load_served_model(const std::string& path);
StageGeometry stage_geometry(const ImportedStage& stage, int input_width);

// Checks the configuration's inputs and outputs against the model: names among x, lengths, h0,
// c0 / y, h_n, c_n; element types (dtype for data, INT32/INT64 for lengths); dims (-1 or the
// model's size; rank with or without the batch dimension); x present, at least one output; h0/c0
// only for a one-stage model; forward-only stages under the sequence batcher. Throws Error(kInvalidArgument) naming the
// tensor and what was expected.
void check_tensors(const ServingConfig& config, const ServedModel& served);

}  // namespace lstmrt::serving
