// Host side: builds the kernels' POD cell-math parameters (lstm_cell_math.cuh) from the public
// model description, one direction slot at a time.
#pragma once

#include "kernels/lstm_cell_math.cuh"
#include "lstmrt/model.hpp"

namespace lstmrt::kernels {

// Maps a public Activation to the kernels' POD form, kind by kind (never by enum value).
ActParams to_act_params(const Activation& activation);

// Cell math of direction slot `slot` (0 .. D−1) of `desc`: its three activations, clip, peepholes,
// coupled gate. Throws Error(kInvalidArgument) when the slot is out of range.
CellMathParams make_cell_math_params(const ModelDesc& desc, int slot);

}  // namespace lstmrt::kernels
