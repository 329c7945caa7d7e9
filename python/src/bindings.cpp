// lstmrt._lstmrt: the nanobind extension under the Python package (python/lstmrt). It binds the
// C++ API thinly; framework handling (DLPack capsules, allocation of outputs in the caller's
// framework, streams) is Python's (python/lstmrt/_arrays.py). Every array reaching here is checked
// again — dtype, device, shape, C order — and named in the error. Forward calls release the GIL.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/elements.hpp"
#include "gpu_loader.hpp"
#include "lstmrt/lstmrt.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace lstmrt::python {
namespace {

using InArray = nb::ndarray<nb::ro>;  // any dtype, device, shape: checked by check_array
using OutArray = nb::ndarray<>;

// ---- errors: lstmrt::Error -> the lstmrt._errors class for its code ----------------------------------
const char* error_class(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "InvalidArgumentError";
    case ErrorCode::kUnsupported: return "UnsupportedError";
    case ErrorCode::kNoDevice: return "NoDeviceError";
    case ErrorCode::kCudaError: return "CudaError";
    case ErrorCode::kIoError: return "IoError";
    case ErrorCode::kInternal: return "InternalError";
  }
  return "Error";
}

// Argument errors found here that Python reports more precisely than kInvalidArgument: an array on
// the wrong device (DeviceMismatchError) or of the wrong dtype (InvalidTypeError).
struct ArgumentError : Error {
  ArgumentError(const char* python_class, const std::string& message)
      : Error(ErrorCode::kInvalidArgument, message), python_class(python_class) {}
  const char* python_class;
};

void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const ArgumentError& e) {
    nb::object cls = nb::module_::import_("lstmrt._errors").attr(e.python_class);
    PyErr_SetString(cls.ptr(), e.what());
  } catch (const Error& e) {
    nb::object cls = nb::module_::import_("lstmrt._errors").attr(error_class(e.code()));
    PyErr_SetString(cls.ptr(), e.what());
  }
}

[[noreturn]] void invalid(const std::string& message) { throw Error(ErrorCode::kInvalidArgument, message); }
[[noreturn]] void wrong_device(const std::string& message) { throw ArgumentError("DeviceMismatchError", message); }
[[noreturn]] void wrong_type(const std::string& message) { throw ArgumentError("InvalidTypeError", message); }

// ---- arrays -----------------------------------------------------------------------------------------------
std::string device_name(int type, int id) {
  if (type == nb::device::cpu::value) return "cpu";
  if (type == nb::device::cuda::value) return fmt::format("cuda:{}", id);
  if (type == nb::device::cuda_host::value) return "cuda_host (pinned host)";
  if (type == nb::device::cuda_managed::value) return fmt::format("cuda_managed:{}", id);
  return fmt::format("DLPack device type {}:{}", type, id);
}

std::string dtype_name(nb::dlpack::dtype t) {
  if (t == nb::dtype<float>()) return "float32";
  if (t == nb::dtype<double>()) return "float64";
  if (t.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Float) && t.bits == 16) return "float16";
  if (t.code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Bfloat) && t.bits == 16) return "bfloat16";
  if (t == nb::dtype<std::int32_t>()) return "int32";
  if (t == nb::dtype<std::int64_t>()) return "int64";
  const char* kind = t.code == 0   ? "int"
                     : t.code == 1 ? "uint"
                     : t.code == 2 ? "float"
                     : t.code == 6 ? "bool"
                                   : "other";
  return fmt::format("{}{}", kind, t.bits);
}

nb::dlpack::dtype storage_dtype(DataType t) {
  switch (t) {
    case DataType::kFloat32: return nb::dtype<float>();
    case DataType::kFloat16: return {static_cast<std::uint8_t>(nb::dlpack::dtype_code::Float), 16, 1};
    case DataType::kBFloat16: return {static_cast<std::uint8_t>(nb::dlpack::dtype_code::Bfloat), 16, 1};
    default: break;  // not a storage type
  }
  return nb::dtype<float>();
}

std::string shape_of(const std::vector<std::int64_t>& s) {
  return s.size() == 1 ? fmt::format("({},)", s[0]) : fmt::format("({})", fmt::join(s, ", "));
}

template <typename A>
std::vector<std::int64_t> shape_vector(const A& a) {
  std::vector<std::int64_t> s(a.ndim());
  for (std::size_t i = 0; i < a.ndim(); ++i) s[i] = static_cast<std::int64_t>(a.shape(i));
  return s;
}

template <typename A>
bool c_contiguous(const A& a) {
  std::int64_t expected = 1;
  for (std::size_t i = a.ndim(); i-- > 0;) {
    if (a.shape(i) != 1 && a.stride(i) != expected) return false;
    expected *= static_cast<std::int64_t>(a.shape(i));
  }
  return true;
}

// Where the model computes: host (cpu) memory, or CUDA memory of one device.
struct Place {
  bool device = false;
  int ordinal = 0;
  std::string describe() const { return device ? fmt::format("cuda:{}", ordinal) : "cpu"; }
};

template <typename A>
void check_array(const char* name, const A& a, nb::dlpack::dtype dtype, const std::vector<std::int64_t>& shape,
                 const Place& place, const std::string& why_place) {
  const int type = a.device_type();
  const bool on_device = type == nb::device::cuda::value || type == nb::device::cuda_managed::value;
  const bool on_host = type == nb::device::cpu::value || type == nb::device::cuda_host::value;
  if (place.device ? !(on_device && a.device_id() == place.ordinal) : !on_host)
    wrong_device(fmt::format("{} is on {}: expected {} ({})", name, device_name(type, a.device_id()), place.describe(),
                             why_place));
  if (a.dtype() != dtype) {
    const bool numpy_float64 = a.dtype() == nb::dtype<double>() && !place.device;
    wrong_type(fmt::format("{} has dtype {}: expected {}{}", name, dtype_name(a.dtype()), dtype_name(dtype),
                           numpy_float64 ? " (convert with .astype(numpy.float32) or .float())" : ""));
  }
  if (shape_vector(a) != shape)
    invalid(fmt::format("{} has shape {}: expected {}", name, shape_of(shape_vector(a)), shape_of(shape)));
  if (!c_contiguous(a)) invalid(fmt::format("{} is not C-contiguous: expected a dense row-major array", name));
}

// ---- options and descriptions ---------------------------------------------------------------------------
template <typename E>
E parse_choice(const std::string& what, const std::string& value,
               std::initializer_list<std::pair<const char*, E>> choices) {
  std::vector<std::string> names;
  for (const auto& [n, e] : choices) {
    if (value == n) return e;
    names.push_back(n);
  }
  invalid(fmt::format("{} '{}' is not one of {}", what, value, fmt::join(names, ", ")));
}

// A dtype= argument: a storage type (data_type.hpp), by its to_string name.
DataType parse_storage_type(const std::string& value) {
  std::string names;
  for (DataType t : kStorageTypes) {
    if (value == to_string(t)) return t;
    names += (names.empty() ? "" : ", ") + to_string(t);
  }
  invalid(fmt::format("dtype '{}' is not one of {}", value, names));
}

BackendOptions parse_options(const std::string& backend, const std::string& dtype, const std::string& math,
                             const std::string& cudnn_algo, const std::string& fused_kernel, int device) {
  BackendOptions o;
  o.kind = backend_from_string(backend);
  o.data_type = parse_storage_type(dtype);
  o.math = parse_choice<MathMode>("math", math, {{"strict", MathMode::kStrict}, {"tf32", MathMode::kTF32}});
  o.cudnn_algo = parse_choice<CudnnAlgo>("cudnn_algo", cudnn_algo,
                                         {{"auto", CudnnAlgo::kAuto},
                                          {"standard", CudnnAlgo::kStandard},
                                          {"persist_static", CudnnAlgo::kPersistStatic},
                                          {"persist_static_small_h", CudnnAlgo::kPersistStaticSmallH},
                                          {"persist_dynamic", CudnnAlgo::kPersistDynamic}});
  o.fused_kernel = fused_kernel_from_string(fused_kernel);
  if (device < 0) invalid(fmt::format("device is {}: expected a CUDA device ordinal >= 0", device));
  o.device = device;
  return o;
}

Direction parse_direction(const std::string& d) {
  return parse_choice<Direction>("direction", d,
                                 {{"forward", Direction::kForward},
                                  {"reverse", Direction::kReverse},
                                  {"bidirectional", Direction::kBidirectional}});
}

// An activation: "tanh", or (name, alpha, beta) / (name, alpha).
Activation parse_activation(const nb::handle& h) {
  if (nb::isinstance<nb::str>(h)) return Activation::from_name(nb::cast<std::string>(h));
  if (nb::isinstance<nb::tuple>(h)) {
    nb::tuple t = nb::borrow<nb::tuple>(h);
    if (t.size() >= 1 && t.size() <= 3 && nb::isinstance<nb::str>(t[0])) {
      const float alpha = t.size() > 1 ? nb::cast<float>(t[1]) : Activation::kDefault;
      const float beta = t.size() > 2 ? nb::cast<float>(t[2]) : Activation::kDefault;
      return Activation::from_name(nb::cast<std::string>(t[0]), alpha, beta);
    }
  }
  invalid(fmt::format("activation {}: expected a name such as 'tanh' or a tuple (name, alpha[, beta])",
                      nb::cast<std::string>(nb::repr(h))));
}

// (gate, cell, hidden) for both directions, or ((g, c, h), (g, c, h)) per direction.
std::array<CellActivations, 2> parse_activations(const nb::handle& h) {
  auto cell_of = [](const nb::handle& triple) {
    if (!nb::isinstance<nb::tuple>(triple) && !nb::isinstance<nb::list>(triple))
      invalid("activations: expected (gate, cell, hidden) or one such triple per direction");
    nb::sequence s = nb::borrow<nb::sequence>(triple);
    if (nb::len(s) != 3) invalid("activations: expected 3 entries (gate, cell, hidden)");
    CellActivations a;
    a.gate = parse_activation(s[0]);
    a.cell = parse_activation(s[1]);
    a.hidden = parse_activation(s[2]);
    return a;
  };
  if (!nb::isinstance<nb::tuple>(h) && !nb::isinstance<nb::list>(h))
    invalid("activations: expected (gate, cell, hidden) or one such triple per direction");
  nb::sequence s = nb::borrow<nb::sequence>(h);
  const std::size_t n = nb::len(s);
  auto is_triple = [](const nb::handle& e) {
    return (nb::isinstance<nb::tuple>(e) || nb::isinstance<nb::list>(e)) && nb::len(e) == 3;
  };
  if ((n == 1 || n == 2) && is_triple(s[0])) {
    const CellActivations first = cell_of(s[0]);
    return {first, n == 2 ? cell_of(s[1]) : first};
  }
  const CellActivations a = cell_of(h);
  return {a, a};
}

// An activation as parse_activation reads it back: an ONNX name (Keras 3's hard_sigmoid by its
// Keras name), with (name, alpha[, beta]) when the function has parameters.
nb::object activation_value(const Activation& a) {
  switch (a.kind) {
    case ActivationKind::kSigmoid: return nb::str("Sigmoid");
    case ActivationKind::kTanh: return nb::str("Tanh");
    case ActivationKind::kRelu: return nb::str("Relu");
    case ActivationKind::kAffine: return nb::make_tuple("Affine", a.alpha, a.beta);
    case ActivationKind::kLeakyRelu: return nb::make_tuple("LeakyRelu", a.alpha);
    case ActivationKind::kThresholdedRelu: return nb::make_tuple("ThresholdedRelu", a.alpha);
    case ActivationKind::kScaledTanh: return nb::make_tuple("ScaledTanh", a.alpha, a.beta);
    case ActivationKind::kHardSigmoid: return nb::make_tuple("HardSigmoid", a.alpha, a.beta);
    case ActivationKind::kHardSigmoidKeras3: return nb::str("hard_sigmoid");
    case ActivationKind::kElu: return nb::make_tuple("Elu", a.alpha);
    case ActivationKind::kSoftsign: return nb::str("Softsign");
    case ActivationKind::kSoftplus: return nb::str("Softplus");
  }
  return nb::str(to_string(a).c_str());
}

nb::dict desc_dict(const ModelDesc& d) {
  nb::dict out;
  out["input_size"] = d.input_size;
  out["hidden_size"] = d.hidden_size;
  out["proj_size"] = d.proj_size;
  out["num_layers"] = d.num_layers;
  out["direction"] = to_string(d.direction);
  nb::list acts;
  for (int slot = 0; slot < d.num_directions(); ++slot) {
    const CellActivations& a = d.activations[slot];
    acts.append(nb::make_tuple(activation_value(a.gate), activation_value(a.cell), activation_value(a.hidden)));
  }
  out["activations"] = nb::tuple(acts);
  out["clip"] = d.clip;
  out["peepholes"] = d.peepholes;
  out["coupled_input_forget"] = d.coupled_input_forget;
  return out;
}

ModelDesc make_desc(int input_size, int hidden_size, int num_layers, const std::string& direction, int proj_size,
                    const nb::object& activations, float clip, bool peepholes, bool coupled_input_forget) {
  ModelDesc d;
  d.input_size = input_size;
  d.hidden_size = hidden_size;
  d.num_layers = num_layers;
  d.direction = parse_direction(direction);
  d.proj_size = proj_size;
  if (!activations.is_none()) d.activations = parse_activations(activations);
  d.clip = clip;
  d.peepholes = peepholes;
  d.coupled_input_forget = coupled_input_forget;
  validate(d);
  return d;
}

// ---- weights ----------------------------------------------------------------------------------------------
std::vector<float> host_floats(const char* what, const InArray& a, const std::vector<std::int64_t>* shape = nullptr) {
  if (a.device_type() != nb::device::cpu::value)
    wrong_device(fmt::format("{} is on {}: weights are read from host arrays", what,
                             device_name(a.device_type(), a.device_id())));
  if (a.dtype() != nb::dtype<float>())
    wrong_type(fmt::format("{} has dtype {}: expected float32", what, dtype_name(a.dtype())));
  if (shape && shape_vector(a) != *shape)
    invalid(fmt::format("{} has shape {}: expected {}", what, shape_of(shape_vector(a)), shape_of(*shape)));
  if (!c_contiguous(a)) invalid(fmt::format("{} is not C-contiguous", what));
  const float* p = static_cast<const float*>(a.data());
  return std::vector<float>(p, p + a.size());
}

// Any-dtype host array -> lstmrt::Array (float16/bfloat16 are not numpy dtypes lstmrt reads).
Array to_array(const std::string& name, const InArray& a) {
  if (a.device_type() != nb::device::cpu::value)
    wrong_device(fmt::format("{} is on {}: weights are read from host arrays", name,
                             device_name(a.device_type(), a.device_id())));
  if (!c_contiguous(a)) invalid(fmt::format("{} is not C-contiguous", name));
  Array out;
  const nb::dlpack::dtype t = a.dtype();
  if (t == nb::dtype<float>())
    out.dtype = DataType::kFloat32;
  else if (t == nb::dtype<double>())
    out.dtype = DataType::kFloat64;
  else if (t == nb::dtype<std::int32_t>())
    out.dtype = DataType::kInt32;
  else if (t == nb::dtype<std::int64_t>())
    out.dtype = DataType::kInt64;
  else
    wrong_type(fmt::format("{} has dtype {}: expected float32 (or float64, int32, int64)", name, dtype_name(t)));
  out.shape = shape_vector(a);
  out.data.resize(a.nbytes());
  if (a.nbytes()) std::memcpy(out.data.data(), a.data(), a.nbytes());
  return out;
}

ArrayMap to_array_map(const std::map<std::string, InArray>& arrays) {
  ArrayMap out;
  for (const auto& [name, a] : arrays) out.emplace(name, to_array(name, a));
  return out;
}

// Canonical per-slot weights (weights.hpp): [{"w_ih": ..., "w_hh": ..., "b_ih", "b_hh", "w_hr", "peephole"}].
Weights canonical_weights(const ModelDesc& d, const std::vector<std::map<std::string, InArray>>& slots) {
  const int D = d.num_directions(), H = d.hidden_size, H_out = d.output_size();
  if (static_cast<int>(slots.size()) != d.num_layers * D)
    invalid(fmt::format("weights has {} entries: expected num_layers·D = {} (one per layer and direction)",
                        slots.size(), d.num_layers * D));
  Weights w;
  for (int l = 0; l < d.num_layers; ++l)
    for (int dir = 0; dir < D; ++dir) {
      const auto& slot = slots[static_cast<std::size_t>(l * D + dir)];
      const std::string where = fmt::format("weights[{}] (layer {} direction {})", l * D + dir, l, dir);
      for (const auto& [key, a] : slot) {
        static const std::set<std::string> known{"w_ih", "w_hh", "b_ih", "b_hh", "w_hr", "peephole"};
        if (!known.count(key))
          invalid(fmt::format("{}: unknown key '{}': expected w_ih, w_hh, b_ih, b_hh, w_hr, peephole", where, key));
      }
      auto get = [&](const char* key, std::vector<std::int64_t> shape, bool required) -> std::vector<float> {
        const auto it = slot.find(key);
        if (it == slot.end()) {
          if (required) invalid(fmt::format("{}: '{}' {} is missing", where, key, shape_of(shape)));
          return {};
        }
        return host_floats(fmt::format("{} '{}'", where, key).c_str(), it->second, &shape);
      };
      LayerWeights lw;
      lw.w_ih = get("w_ih", {4 * H, d.layer_input_size(l)}, true);
      lw.w_hh = get("w_hh", {4 * H, H_out}, true);
      lw.b_ih = get("b_ih", {4 * H}, false);
      lw.b_hh = get("b_hh", {4 * H}, false);
      if (lw.b_ih.empty()) lw.b_ih.assign(4 * H, 0.0f);
      if (lw.b_hh.empty()) lw.b_hh.assign(4 * H, 0.0f);
      if (d.proj_size > 0) lw.w_hr = get("w_hr", {d.proj_size, H}, true);
      if (d.peepholes) lw.peephole = get("peephole", {3 * H}, true);
      w.layers.push_back(std::move(lw));
    }
  return w;
}

// ---- the model ---------------------------------------------------------------------------------------------
class Model {
 public:
  Model(Lstm lstm, std::optional<TensorLayout> layout, std::string format, std::string source)
      : lstm_(std::move(lstm)), fixed_layout_(layout), format_(std::move(format)), source_(std::move(source)) {}

  const Lstm& lstm() const { return lstm_; }
  std::optional<TensorLayout> fixed_layout() const { return fixed_layout_; }
  const std::string& format() const { return format_; }
  const std::string& source() const { return source_; }

  Place place() const { return {lstm_.memory_space() == MemorySpace::kDevice, lstm_.options().device}; }

  // All arrays already allocated by the caller (Python); None = not requested / not given.
  void forward(const InArray& x, const std::optional<InArray>& lengths, const std::optional<InArray>& mask,
               const std::optional<InArray>& h0, const std::optional<InArray>& c0, const std::optional<OutArray>& y,
               const std::optional<OutArray>& h_n, const std::optional<OutArray>& c_n, bool batch_major,
               const std::string& padding, const std::string& reverse_order, std::uintptr_t stream) {
    const ModelDesc& d = lstm_.desc();
    const Place where = place();
    const std::string why = where.device ? fmt::format("backend {} computes on the GPU", lstm_.backend_name())
                                         : "backend reference computes on the host";
    const nb::dlpack::dtype dt = where.device ? storage_dtype(lstm_.options().data_type) : nb::dtype<float>();
    if (x.ndim() != 3)
      invalid(fmt::format("x has {} dimensions: expected 3, {}", x.ndim(), batch_major ? "(N, T, I)" : "(T, N, I)"));
    const std::int64_t T = static_cast<std::int64_t>(batch_major ? x.shape(1) : x.shape(0));
    const std::int64_t N = static_cast<std::int64_t>(batch_major ? x.shape(0) : x.shape(1));
    if (T < 1 || N < 1 || T > INT32_MAX || N > INT32_MAX)
      invalid(fmt::format("x has shape {}: expected T >= 1 and N >= 1", shape_of(shape_vector(x))));
    const std::int64_t D = d.num_directions(), S = d.num_layers * D, H = d.hidden_size, H_out = d.output_size();
    auto seq = [&](std::int64_t c) {
      return batch_major ? std::vector<std::int64_t>{N, T, c} : std::vector<std::int64_t>{T, N, c};
    };
    check_array("x", x, dt, seq(d.input_size), where, why);
    if (h0.has_value() != c0.has_value()) invalid("initial_state: expected both h0 and c0, or neither");
    if (h0) check_array("initial_state h0", *h0, dt, {S, N, H_out}, where, why);
    if (c0) check_array("initial_state c0", *c0, dt, {S, N, H}, where, why);
    if (y) check_array("y", *y, dt, seq(D * H_out), where, why);
    if (h_n) check_array("h_n", *h_n, dt, {S, N, H_out}, where, why);
    if (c_n) check_array("c_n", *c_n, dt, {S, N, H}, where, why);
    if (lengths) {
      if (lengths->device_type() != nb::device::cpu::value)
        wrong_device(fmt::format("lengths is on {}: expected a host array (lstmrt reads lengths on the host)",
                                 device_name(lengths->device_type(), lengths->device_id())));
      check_array("lengths", *lengths, nb::dtype<std::int32_t>(), {N}, Place{}, "lengths are read on the host");
    }
    if (mask) {
      if (mask->device_type() != nb::device::cpu::value)
        wrong_device(fmt::format("mask is on {}: expected a host array (lstmrt reads masks on the host)",
                                 device_name(mask->device_type(), mask->device_id())));
      check_array("mask", *mask, nb::dtype<std::uint8_t>(), {N, T}, Place{}, "masks are read on the host");
      if (lengths) invalid("mask and lengths: give one of them (a right-padded mask is the same as lengths)");
    }

    ForwardRequest req;
    req.seq_len = static_cast<int>(T);
    req.batch = static_cast<int>(N);
    req.layout = batch_major ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor;
    req.x = x.data();
    req.lengths = lengths ? static_cast<const std::int32_t*>(lengths->data()) : nullptr;
    req.mask = mask ? static_cast<const std::uint8_t*>(mask->data()) : nullptr;
    req.h0 = h0 ? h0->data() : nullptr;
    req.c0 = c0 ? c0->data() : nullptr;
    req.y = y ? y->data() : nullptr;
    req.h_n = h_n ? h_n->data() : nullptr;
    req.c_n = c_n ? c_n->data() : nullptr;
    req.padding = parse_choice<PaddingMode>("padding", padding,
                                            {{"zero", PaddingMode::kZero}, {"carry", PaddingMode::kCarryLast}});
    req.reverse_order = parse_choice<ReverseOutputOrder>(
        "reverse_order", reverse_order,
        {{"original", ReverseOutputOrder::kOriginal}, {"processing", ReverseOutputOrder::kProcessing}});
    nb::gil_scoped_release release;
    if (!where.device) {
      lstm_.forward(req, nullptr);  // the reference backend keeps no state between calls
      return;
    }
    // A GPU Lstm serves one caller at a time (lstm.hpp): every call on it holds mutex_.
    std::lock_guard<std::mutex> lock(mutex_);
    if (lstm_.workspace_size(req.seq_len, req.batch) > 0) lstm_.reserve(req.seq_len, req.batch);
    lstm_.forward(req, reinterpret_cast<cudaStream_t>(stream));
  }

  std::string execution_plan(int T, int N) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lstm_.execution_plan(T, N);
  }
  std::size_t workspace_size(int T, int N) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lstm_.workspace_size(T, N);
  }

 private:
  Lstm lstm_;
  std::optional<TensorLayout> fixed_layout_;
  std::string format_, source_;
  mutable std::mutex mutex_;
};

std::unique_ptr<Model> model_from_loaded(LoadedWeights loaded, const BackendOptions& options,
                                         const std::string& source) {
  Lstm lstm = Lstm::create(loaded.desc, loaded.weights, options);
  return std::make_unique<Model>(std::move(lstm), loaded.input_layout, loaded.format, source);
}

// Arrays whose names start with `prefix.`, the prefix removed; all of them without a prefix.
ArrayMap select_prefix(const ArrayMap& arrays, const std::optional<std::string>& prefix, const std::string& source) {
  if (!prefix || prefix->empty()) return arrays;
  const std::string p = prefix->back() == '.' ? *prefix : *prefix + ".";
  ArrayMap out;
  std::set<std::string> heads;
  for (const auto& [name, a] : arrays) {
    if (name.rfind(p, 0) == 0) out.emplace(name.substr(p.size()), a);
    heads.insert(name.substr(0, name.find('.')));
  }
  if (out.empty())
    throw Error(ErrorCode::kInvalidArgument,
                fmt::format("{}: no tensor is named '{}*' (prefix '{}'); the names start with {}", source, p, *prefix,
                            fmt::join(heads, ", ")));
  return out;
}

std::unique_ptr<Model> load_model(const std::string& path, const std::optional<std::string>& prefix,
                                  const BackendOptions& options) {
  // The reader is chosen by the file's content (include/lstmrt/import.hpp), not its name.
  if (std::optional<ArrayMap> arrays = load_weight_arrays(path))
    return model_from_loaded(weights_from_arrays(select_prefix(*arrays, prefix, path), path), options, path);
  if (prefix) invalid(fmt::format("{}: prefix applies to .npz and .safetensors files, not this one", path));
  return model_from_loaded(load_weights(path), options, path);
}

// ---- Keras models (graphs of layers, host arrays) ------------------------------------------------------------
// run: a chain model's (y, h_n, c_n) — y its first output; run_all: every output in model.outputs order.
class KerasChain {
 public:
  explicit KerasChain(ImportedModel m) : model_(std::move(m)) {}
  const ImportedModel& model() const { return model_; }

  nb::tuple run(const InArray& x, const std::optional<InArray>& lengths, bool batch_major,
                const BackendOptions& options) {
    if (!model_.is_chain())
      throw Error(ErrorCode::kUnsupported,
                  fmt::format("{}: not one chain of layers (several inputs or a graph): use run_all", model_.source));
    if (x.ndim() != 3)
      invalid(fmt::format("x has {} dimensions: expected 3, {}", x.ndim(), batch_major ? "(N, T, I)" : "(T, N, I)"));
    const std::int64_t T = static_cast<std::int64_t>(batch_major ? x.shape(1) : x.shape(0));
    const std::int64_t N = static_cast<std::int64_t>(batch_major ? x.shape(0) : x.shape(1));
    const std::int64_t I = model_.inputs.front().width;
    const std::vector<std::int64_t> shape =
        batch_major ? std::vector<std::int64_t>{N, T, I} : std::vector<std::int64_t>{T, N, I};
    check_array("x", x, nb::dtype<float>(), shape, Place{}, "Keras models run on host arrays");
    if (lengths)
      check_array("lengths", *lengths, nb::dtype<std::int32_t>(), {N}, Place{}, "lengths are read on the host");
    auto out = std::make_unique<ModelOutputs>();
    {
      nb::gil_scoped_release release;
      *out = run_model(model_, options, batch_major ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor,
                       {{shape, static_cast<const float*>(x.data())}},
                       lengths ? static_cast<const std::int32_t*>(lengths->data()) : nullptr);
    }
    ModelOutputs* raw = out.release();
    nb::capsule owner(raw, [](void* p) noexcept { delete static_cast<ModelOutputs*>(p); });
    return nb::make_tuple(wrap(raw->outputs.front(), owner), wrap(raw->h_n, owner), wrap(raw->c_n, owner));
  }

  nb::list run_all(const std::vector<InArray>& inputs, bool batch_major, const BackendOptions& options) {
    if (inputs.size() != model_.inputs.size())
      invalid(fmt::format("{} takes {} input(s) (model.inputs order), got {}", model_.source, model_.inputs.size(),
                          inputs.size()));
    std::vector<HostTensorView> views;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const InArray& a = inputs[k];
      std::vector<std::int64_t> shape;
      for (std::size_t d = 0; d < a.ndim(); ++d) shape.push_back(static_cast<std::int64_t>(a.shape(d)));
      check_array(fmt::format("inputs[{}]", k).c_str(), a, nb::dtype<float>(), shape, Place{},
                  "Keras models run on host arrays");
      views.push_back({shape, static_cast<const float*>(a.data())});
    }
    auto out = std::make_unique<ModelOutputs>();
    {
      nb::gil_scoped_release release;
      *out = run_model(model_, options, batch_major ? TensorLayout::kBatchMajor : TensorLayout::kTimeMajor, views);
    }
    ModelOutputs* raw = out.release();
    nb::capsule owner(raw, [](void* p) noexcept { delete static_cast<ModelOutputs*>(p); });
    nb::list result;
    for (HostTensor& t : raw->outputs) result.append(wrap(t, owner));
    return result;
  }

 private:
  // Hands a vector to numpy without copying: `owner` keeps every output alive.
  static nb::object wrap(HostTensor& t, nb::capsule& owner) {
    if (t.shape.empty()) return nb::none();
    std::vector<std::size_t> shape(t.shape.begin(), t.shape.end());
    return nb::cast(nb::ndarray<nb::numpy, float>(t.values.data(), shape.size(), shape.data(), owner));
  }
  ImportedModel model_;
};

// An uninitialised device array from the GPU module's stream-ordered allocator (for callers whose
// framework cannot allocate writable device memory, e.g. jax); freed when its last owner goes.
nb::ndarray<> device_empty(const std::vector<std::size_t>& shape, const std::string& dtype, int device,
                           std::uintptr_t stream) {
  const gpu_module::GpuModuleApi& api = detail::require_gpu_module("device memory");
  const DataType t = parse_storage_type(dtype);
  std::size_t count = 1;
  for (std::size_t d : shape) count *= d;
  void* ptr = nullptr;
  const gpu_module::Status st =
      api.device_alloc(device, count * lstmrt::detail::element_bytes(t), reinterpret_cast<cudaStream_t>(stream), &ptr);
  if (!st.ok) throw Error(st.code, st.message);
  struct Owner {
    const gpu_module::GpuModuleApi* api;
    int device;
    void* ptr;
  };
  nb::capsule owner(new Owner{&api, device, ptr}, [](void* p) noexcept {
    auto* o = static_cast<Owner*>(p);
    o->api->device_free(o->device, o->ptr, nullptr);  // the legacy stream: after all earlier work
    delete o;
  });
  return nb::ndarray<>(ptr, shape.size(), shape.data(), owner, nullptr, storage_dtype(t), nb::device::cuda::value,
                       device);
}

nb::dict system_info() {
  const SystemInfo s = query_system();
  nb::dict out;
  out["version"] = s.version;
  out["backends_built"] = s.backends_built;
  out["backends_usable"] = s.backends_usable;
  out["cuda_runtime_version"] = s.cuda_runtime_version;
  out["cuda_driver_version"] = s.cuda_driver_version;
  out["cudnn_version"] = s.cudnn_version;
  out["cudnn_cuda_version"] = s.cudnn_cuda_version;
  out["cublas_version"] = s.cublas_version;
  nb::list gpus;
  for (const GpuInfo& g : s.gpus) {
    nb::dict gd;
    gd["ordinal"] = g.ordinal;
    gd["name"] = g.name;
    gd["compute_capability"] = nb::make_tuple(g.compute_major, g.compute_minor);
    gd["memory_bytes"] = g.memory_bytes;
    gd["multiprocessors"] = g.multiprocessors;
    gpus.append(gd);
  }
  out["gpus"] = gpus;
  out["gpu_status"] = s.gpu_status;
  out["gpu_libraries_status"] = s.gpu_libraries_status;
  out["cudnn_path"] = s.cudnn_path;
  out["cublas_path"] = s.cublas_path;
  out["gpu_module_path"] = s.gpu_module_path;
  return out;
}

}  // namespace
}  // namespace lstmrt::python

NB_MODULE(_lstmrt, m) {
  using namespace lstmrt;
  using namespace lstmrt::python;
  m.doc() = "lstmrt's C++ core (internal: use the lstmrt package)";
  nb::register_exception_translator(translate);
  m.attr("__version__") = version();

  m.def(
      "check_desc",
      [](int input_size, int hidden_size, int num_layers, const std::string& direction, int proj_size,
         const nb::object& activations, float clip, bool peepholes, bool coupled_input_forget) {
        return desc_dict(make_desc(input_size, hidden_size, num_layers, direction, proj_size, activations, clip,
                                   peepholes, coupled_input_forget));
      },
      "input_size"_a, "hidden_size"_a, "num_layers"_a, "direction"_a, "proj_size"_a, "activations"_a.none(), "clip"_a,
      "peepholes"_a, "coupled_input_forget"_a);
  m.def("info", &system_info);
  m.def("device_empty", &device_empty, "shape"_a, "dtype"_a, "device"_a, "stream"_a);
  m.def(
      "data_pointer", [](const InArray& a) { return reinterpret_cast<std::uintptr_t>(a.data()); }, "array"_a,
      "Where the extension sees an array's data (tests: DLPack hands over without copying).");
  m.def("gpu_available", &gpu_available);
  m.def("add_library_roots", &detail::add_library_roots, "roots"_a);

  nb::class_<Model>(m, "Model")
      .def_static(
          "create",
          [](int input_size, int hidden_size, int num_layers, const std::string& direction, int proj_size,
             const nb::object& activations, float clip, bool peepholes, bool coupled_input_forget,
             const std::vector<std::map<std::string, InArray>>& slots, const BackendOptions& o) {
            const ModelDesc d = make_desc(input_size, hidden_size, num_layers, direction, proj_size, activations, clip,
                                          peepholes, coupled_input_forget);
            Weights w = canonical_weights(d, slots);
            return std::make_unique<Model>(Lstm::create(d, w, o), std::nullopt, "canonical", "arrays");
          },
          "input_size"_a, "hidden_size"_a, "num_layers"_a, "direction"_a, "proj_size"_a, "activations"_a.none(),
          "clip"_a, "peepholes"_a, "coupled_input_forget"_a, "weights"_a, "options"_a)
      .def_static(
          "create_named",
          [](int input_size, int hidden_size, int num_layers, const std::string& direction, int proj_size,
             const nb::object& activations, float clip, bool peepholes, bool coupled_input_forget,
             const std::map<std::string, InArray>& arrays, const BackendOptions& o) {
            const ModelDesc d = make_desc(input_size, hidden_size, num_layers, direction, proj_size, activations, clip,
                                          peepholes, coupled_input_forget);
            const LoadedWeights loaded = weights_from_arrays(to_array_map(arrays), "weights");
            const ModelDesc& f = loaded.desc;
            if (f.input_size != d.input_size || f.hidden_size != d.hidden_size || f.proj_size != d.proj_size ||
                f.num_layers != d.num_layers || f.num_directions() != d.num_directions() || f.peepholes != d.peepholes)
              invalid(
                  fmt::format("weights ({} naming) describe {}: expected {}", loaded.format, describe(f), describe(d)));
            return std::make_unique<Model>(Lstm::create(d, loaded.weights, o), std::nullopt, loaded.format, "arrays");
          },
          "input_size"_a, "hidden_size"_a, "num_layers"_a, "direction"_a, "proj_size"_a, "activations"_a.none(),
          "clip"_a, "peepholes"_a, "coupled_input_forget"_a, "arrays"_a, "options"_a)
      .def_static(
          "from_named_arrays",
          [](const std::map<std::string, InArray>& arrays, const std::optional<std::string>& prefix,
             const std::string& source, const BackendOptions& o) {
            const ArrayMap a = to_array_map(arrays);
            return model_from_loaded(weights_from_arrays(select_prefix(a, prefix, source), source), o, source);
          },
          "arrays"_a, "prefix"_a.none(), "source"_a, "options"_a)
      .def_static("load", &load_model, "path"_a, "prefix"_a.none(), "options"_a)
      .def("forward", &Model::forward, "x"_a, "lengths"_a.none(), "mask"_a.none(), "h0"_a.none(), "c0"_a.none(),
           "y"_a.none(), "h_n"_a.none(), "c_n"_a.none(), "batch_major"_a, "padding"_a, "reverse_order"_a, "stream"_a)
      .def("execution_plan", &Model::execution_plan, "seq_len"_a, "batch"_a)
      .def("workspace_size", &Model::workspace_size, "seq_len"_a, "batch"_a)
      .def_prop_ro("desc", [](const Model& m) { return desc_dict(m.lstm().desc()); })
      .def_prop_ro("backend", [](const Model& m) { return m.lstm().backend_name(); })
      .def_prop_ro("on_device", [](const Model& m) { return m.place().device; })
      .def_prop_ro("device", [](const Model& m) { return m.lstm().options().device; })
      .def_prop_ro("dtype", [](const Model& m) { return to_string(m.lstm().options().data_type); })
      .def_prop_ro("format", &Model::format)
      .def_prop_ro("source", &Model::source)
      .def_prop_ro("fixed_batch_major", [](const Model& m) -> std::optional<bool> {
        if (!m.fixed_layout()) return std::nullopt;
        return *m.fixed_layout() == TensorLayout::kBatchMajor;
      });

  nb::class_<BackendOptions>(m, "Options")
      .def(
          "__init__",
          [](BackendOptions* o, const std::string& backend, const std::string& dtype, const std::string& math,
             const std::string& cudnn_algo, const std::string& fused_kernel, int device) {
            new (o) BackendOptions(parse_options(backend, dtype, math, cudnn_algo, fused_kernel, device));
          },
          "backend"_a, "dtype"_a, "math"_a, "cudnn_algo"_a, "fused_kernel"_a, "device"_a);

  nb::class_<KerasChain>(m, "KerasChain")
      .def_static(
          "load",
          [](const std::string& path, const std::optional<std::string>& config) {
            return std::make_unique<KerasChain>(config ? load_keras_model(path, *config) : load_keras_model(path));
          },
          "path"_a, "config"_a.none())
      .def("run", &KerasChain::run, "x"_a, "lengths"_a.none(), "batch_major"_a, "options"_a)
      .def("run_all", &KerasChain::run_all, "inputs"_a, "batch_major"_a, "options"_a)
      .def_prop_ro("is_chain", [](const KerasChain& k) { return k.model().is_chain(); })
      .def_prop_ro("num_outputs", [](const KerasChain& k) { return k.model().outputs.size(); })
      .def_prop_ro("input_names",
                   [](const KerasChain& k) {
                     nb::list out;
                     for (const ModelInput& in : k.model().inputs) out.append(in.name);
                     return out;
                   })
      .def_prop_ro("return_sequences",
                   [](const KerasChain& k) {
                     const int last = k.model().last_lstm();
                     return last < 0 || k.model().nodes[last].return_sequences;
                   })
      .def_prop_ro("masking",
                   [](const KerasChain& k) {
                     for (const ImportedNode& n : k.model().nodes)
                       if (n.kind == NodeKind::kMasking || n.mask) return true;
                     return false;
                   })
      .def_prop_ro("source", [](const KerasChain& k) { return k.model().source; })
      .def_prop_ro("stages", [](const KerasChain& k) {  // the LSTM layers in evaluation order
        nb::list out;
        for (const ImportedNode& s : k.model().nodes) {
          if (s.kind != NodeKind::kLstm) continue;
          nb::dict d = desc_dict(s.desc);
          d["name"] = s.name;
          d["go_backwards"] = s.reverse_order == ReverseOutputOrder::kProcessing;
          d["padding"] = s.padding == PaddingMode::kZero ? "zero" : "carry";
          const char* merge = s.merge == MergeMode::kConcat     ? "concat"
                              : s.merge == MergeMode::kSum      ? "sum"
                              : s.merge == MergeMode::kAverage  ? "ave"
                              : s.merge == MergeMode::kMultiply ? "mul"
                                                                : "none";
          d["merge_mode"] = merge;
          d["output_width"] = s.output_width();
          out.append(d);
        }
        return out;
      });
}
