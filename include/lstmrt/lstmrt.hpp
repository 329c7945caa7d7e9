// lstmrt — LSTM layers on NVIDIA GPUs. The whole public API.
#pragma once

#include "lstmrt/error.hpp"
#include "lstmrt/import.hpp"
#include "lstmrt/io.hpp"
#include "lstmrt/keras_run.hpp"
#include "lstmrt/lstm.hpp"
#include "lstmrt/model.hpp"
#include "lstmrt/version.hpp"
#include "lstmrt/weights.hpp"
