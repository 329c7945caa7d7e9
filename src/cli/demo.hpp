#pragma once

#include <ostream>

#include "lstmrt/lstm.hpp"

namespace lstmrt::cli {

// The seed example: one sample of 3 steps with 1 feature [0.1, 0.2, 0.3] through a 1-unit LSTM
// with fixed weights, on every backend this machine offers. Returns the process exit code.
int run_demo(std::ostream& out);

// The demo's model and weights (also used by tests).
ModelDesc demo_model();
Weights demo_weights();

}  // namespace lstmrt::cli
