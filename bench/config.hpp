// lstmrt-bench: what to measure. A benchmark is a list of shapes; shapes come from sweeps (each
// field one value or a list; a sweep is the cartesian product of its lists), given as flags, a JSON
// config file, or a named preset from bench/presets.json (compiled into the binary, and read by
// bench/torch_compare.py too).
//
// JSON config: {"sweeps": [{"batch": [1, 64], "steps": 100, "hidden": [256, 1024],
//                           "precision": ["fp32", "bf16"]}, ...]}
// Fields: batch, steps, input (defaults to hidden), hidden, proj (0 = none), layers (1),
// directions (1 or 2; default 1), precision ("fp32" strict, "tf32", "fp16", "bf16"; default fp32).
// Errors throw lstmrt::Error(kInvalidArgument) naming the field, e.g.
//   "quick.json: sweeps[1].hidden[2]: expected a positive integer, got \"big\"".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lstmrt/lstmrt.hpp"

namespace lstmrt::bench {

// What a shape stores and computes in: the API's storage type and math mode. Its user-facing
// names (flags, presets.json, CSV): fp32 = float32 strict, tf32 = float32 with TF32 tensor-core
// math, fp16 = float16, bf16 = bfloat16.
struct Numerics {
  DataType type = DataType::kFloat32;
  MathMode math = MathMode::kStrict;
};
bool operator==(const Numerics& a, const Numerics& b);
bool operator!=(const Numerics& a, const Numerics& b);
bool operator<(const Numerics& a, const Numerics& b);    // a map key (ceilings per numerics)
Numerics numerics_from_string(const std::string& name);  // fp32 tf32 fp16 bf16; throws naming the valid choices
std::string to_string(const Numerics& n);                // the name numerics_from_string takes back

// Output check against the reference: |got − expected| <= atol + rtol·|expected| element-wise.
struct Tolerance {
  double atol, rtol;
};
Tolerance tolerance(const Numerics& n);

struct Shape {
  int batch = 1;       // N
  int steps = 1;       // T
  int input = 0;       // I
  int hidden = 0;      // H
  int proj = 0;        // P (0 = none)
  int layers = 1;      // L
  int directions = 1;  // D
  Numerics numerics;   // fp32 by default
};
bool operator==(const Shape& a, const Shape& b);
std::string describe(const Shape& s);  // "N=64 T=100 I=1024 H=1024 P=0 L=1 D=1 bf16"
ModelDesc model_desc(const Shape& s);
// Throws naming the bad field (batch, steps, directions, or the model's own checks).
void validate(const Shape& s);

// One sweep: field name → its values, as strings (ints or numerics names), in order.
using Sweep = std::map<std::string, std::vector<std::string>>;
const std::vector<std::string>& sweep_fields();  // batch steps input hidden proj layers directions precision

// The shapes of a sweep (validated; duplicates dropped, first occurrence kept). `where` prefixes
// error messages ("--hidden", "config.json: sweeps[0]").
std::vector<Shape> expand(const Sweep& sweep, const std::string& where);
// Appends the shapes of `more` that `shapes` does not hold yet.
void append_unique(std::vector<Shape>& shapes, const std::vector<Shape>& more);

// Splits a flag value "1,8,64" into its items; throws naming `flag` on an empty item.
std::vector<std::string> split_list(const std::string& flag, const std::string& value);

// Parses a JSON config text; `origin` names it in errors (a file name).
std::vector<Shape> parse_config(const std::string& json_text, const std::string& origin);
std::vector<Shape> load_config_file(const std::string& path);  // throws kIoError if unreadable

// A backend to time: the kind, and for the fused backend which kernel variant
// (BackendOptions::fused_kernel). Names: reference, cudnn, fused (= fused:auto), fused:auto,
// fused:stepwise, fused:persistent, fused:cluster.
struct BackendChoice {
  BackendKind kind = BackendKind::kFused;
  FusedKernel fused_kernel = FusedKernel::kAuto;
  BackendChoice(BackendKind k = BackendKind::kFused, FusedKernel f = FusedKernel::kAuto) : kind(k), fused_kernel(f) {}
};
bool operator==(const BackendChoice& a, const BackendChoice& b);
// Throws kInvalidArgument naming the valid choices (auto is not a backend to time).
BackendChoice backend_choice_from_string(const std::string& name);
std::string to_string(const BackendChoice& c);  // "fused:persistent", "cudnn", ...

struct PresetInfo {
  std::string name, description;
};
std::vector<PresetInfo> preset_list();
std::vector<Shape> preset_shapes(const std::string& name);  // throws naming the valid presets

}  // namespace lstmrt::bench
