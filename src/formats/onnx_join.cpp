// The symbolic check of the ops between stacked LSTM nodes (onnx_join.hpp).
//
// A tensor is a list of axes; an axis is a run of factors in memory (row-major) order, each a
// label with a size: T and N (sizes unknown, -1), D (2; a single direction is no factor at all,
// its axis has size 1), H, I (the sizes the weights fix), and P, Q for the two leading axes of a
// graph input before it is known which is time. A Reshape keeps the factors' order and regroups
// them into new axes; a Transpose reorders axes; Squeeze/Unsqueeze drop/insert size-1 axes.
#include "formats/onnx_join.hpp"

#include <algorithm>
#include <optional>

#include "common/check.hpp"

namespace lstmrt::formats_detail {
namespace {

constexpr int kMaxDepth = 256;           // ops followed from one value back to its source
constexpr int kMaxEvaluations = 100000;  // values visited for one join: a graph that reuses values
                                         // in a fan-out (Mul(a, a) ...) cannot make the walk explode

struct Factor {
  char label;
  std::int64_t size;  // -1: a symbol (T, N, P, Q)
  bool operator==(const Factor& o) const { return label == o.label && size == o.size; }
};
using Axis = std::vector<Factor>;
using Value = std::vector<Axis>;

// One entry of a shape vector: a literal from a constant, or a product of factors' sizes — the
// symbols it holds and the product of the known sizes.
struct Dim {
  bool literal = true;
  std::int64_t constant = 1;  // the literal's value, or the product of the known sizes
  std::vector<char> symbols;  // sorted
};
using Shape = std::vector<Dim>;

Dim dim_of(const Axis& axis) {
  Dim d;
  d.literal = false;
  for (const Factor& f : axis) {
    if (f.size < 0)
      d.symbols.push_back(f.label);
    else
      d.constant *= f.size;
  }
  std::sort(d.symbols.begin(), d.symbols.end());
  if (d.symbols.empty()) d.literal = true;  // a known size is as good as a literal
  return d;
}

Dim multiply(const Dim& a, const Dim& b) {
  Dim d;
  d.literal = a.literal && b.literal;
  d.constant = a.constant * b.constant;
  d.symbols = a.symbols;
  d.symbols.insert(d.symbols.end(), b.symbols.begin(), b.symbols.end());
  std::sort(d.symbols.begin(), d.symbols.end());
  return d;
}

std::string axis_string(const Axis& axis) {
  if (axis.empty()) return "1";
  std::string s;
  for (const Factor& f : axis) s += (s.empty() ? "" : "·") + std::string(1, f.label);
  return s;
}

std::string value_string(const Value& v) {
  std::string s = "(";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + axis_string(v[i]);
  return s + ")";
}

std::string node_label(const onnx::NodeProto& n) {
  return n.name().empty() ? fmt::format("a {} node", n.op_type()) : fmt::format("{} node '{}'", n.op_type(), n.name());
}

std::vector<std::int64_t> ints_attribute(const onnx::NodeProto& n, const char* name, bool* present) {
  for (const onnx::AttributeProto& a : n.attribute())
    if (a.name() == name) {
      *present = true;
      return {a.ints().begin(), a.ints().end()};
    }
  *present = false;
  return {};
}

std::int64_t int_attribute(const onnx::NodeProto& n, const char* name, std::int64_t fallback) {
  for (const onnx::AttributeProto& a : n.attribute())
    if (a.name() == name) return a.i();
  return fallback;
}

class Evaluator {
 public:
  Evaluator(const OnnxGraphView& g, std::string where) : g_(g), where_(std::move(where)) {}

  std::map<std::string, Value> roots;  // values known outright: LSTM Ys, the graph input
  std::vector<std::string> data_ops;   // the data path's op nodes, from the root to the value asked for

  // "Transpose node 'a', Reshape node 'b'" or "no op".
  std::string path() const {
    if (data_ops.empty()) return "no op";
    std::string s;
    for (const std::string& op : data_ops) s += (s.empty() ? "" : ", ") + op;
    return s;
  }

  // The symbolic value of a data tensor; *origin is the root it comes from.
  Value value(const std::string& name, std::string* origin, int depth = 0) {
    if (const auto it = roots.find(name); it != roots.end()) {
      *origin = name;
      return it->second;
    }
    const onnx::NodeProto& n = producer(name, depth, "data");
    const std::string& op = n.op_type();
    if (n.input_size() == 0) fail(n, "has no input");
    Value in = value(n.input(0), origin, depth + 1);
    data_ops.push_back(node_label(n));
    if (op == "Identity") return in;
    const int rank = static_cast<int>(in.size());
    if (op == "Transpose") {
      bool given = false;
      std::vector<std::int64_t> perm = ints_attribute(n, "perm", &given);
      if (!given)
        for (int i = rank - 1; i >= 0; --i) perm.push_back(i);
      std::vector<std::int64_t> sorted = perm;
      std::sort(sorted.begin(), sorted.end());
      for (int i = 0; i < rank; ++i)
        if (static_cast<int>(sorted.size()) != rank || sorted[i] != i)
          fail(n, fmt::format("has perm {} for a rank-{} input", fmt::join(perm, ","), rank));
      Value out;
      for (std::int64_t p : perm) out.push_back(in[p]);
      return out;
    }
    if (op == "Squeeze" || op == "Unsqueeze") {
      std::vector<std::int64_t> axes = axes_of(n);
      const int out_rank =
          op == "Squeeze" ? rank - static_cast<int>(axes.size()) : rank + static_cast<int>(axes.size());
      const int range = op == "Squeeze" ? rank : out_rank;
      for (std::int64_t& a : axes) {
        if (a < -range || a >= range) fail(n, fmt::format("has axis {} for rank {}", a, range));
        if (a < 0) a += range;
      }
      std::sort(axes.begin(), axes.end());
      if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) fail(n, "repeats an axis");
      if (op == "Squeeze") {
        if (axes.empty()) fail(n, "has no axes (which axes go then depends on the run's T and N)");
        Value out;
        for (int i = 0; i < rank; ++i) {
          const bool squeezed = std::binary_search(axes.begin(), axes.end(), i);
          if (squeezed && !in[i].empty())
            fail(n, fmt::format("squeezes axis {} of {}, which is not of size 1", i, value_string(in)));
          if (!squeezed) out.push_back(in[i]);
        }
        return out;
      }
      Value out;
      std::size_t next = 0;
      for (int i = 0; i < out_rank; ++i)
        out.push_back(std::binary_search(axes.begin(), axes.end(), i) ? Axis{} : in.at(next++));
      return out;
    }
    if (op == "Reshape") {
      if (n.input_size() < 2) fail(n, "has no shape input");
      return reshape(n, in, shape(n.input(1), depth + 1), int_attribute(n, "allowzero", 0) != 0);
    }
    fail(n, fmt::format("is on the data path (op {}): lstmrt joins stacked layers through Transpose, Reshape, "
                        "Squeeze, Unsqueeze and Identity only",
                        op));
  }

  [[noreturn]] void fail(const onnx::NodeProto& n, const std::string& what) const {
    detail::unsupported(
        "{}: {} {}: lstmrt joins stacked layers as Y transposed to (T, N, D, H) and merged to (T, N, "
        "D·H) (PyTorch: Transpose(perm=[0, 2, 1, 3]) + Reshape([0, 0, -1]), or Squeeze of the D axis "
        "when D = 1)",
        where_, node_label(n), what);
  }

 private:
  const onnx::NodeProto& producer(const std::string& name, int depth, const char* kind) {
    if (depth > kMaxDepth) detail::unsupported("{}: more than {} ops between values", where_, kMaxDepth);
    if (++evaluations_ > kMaxEvaluations)
      detail::unsupported("{}: more than {} values to follow for one join", where_, kMaxEvaluations);
    const auto it = g_.producer.find(name);
    if (it == g_.producer.end())
      detail::unsupported(
          "{}: the {} value '{}' comes from neither an LSTM node, a graph input nor an op lstmrt "
          "follows",
          where_, kind, name);
    return *it->second;
  }

  // Squeeze/Unsqueeze axes: an attribute (opset < 13) or input 1 (opset 13+).
  std::vector<std::int64_t> axes_of(const onnx::NodeProto& n) {
    bool present = false;
    std::vector<std::int64_t> axes = ints_attribute(n, "axes", &present);
    if (present) return axes;
    if (n.input_size() < 2 || n.input(1).empty()) return {};
    for (const Dim& d : shape(n.input(1), 1)) {
      if (!d.literal) fail(n, "has axes that are not constants");
      axes.push_back(d.constant);
    }
    return axes;
  }

  // An integer vector: a constant, or computed from shapes.
  Shape shape(const std::string& name, int depth) {
    if (const auto t = g_.tensors.find(name); t != g_.tensors.end()) {
      const onnx::TensorProto& proto = t->second;
      if (proto.data_type() != onnx::TensorProto::INT64 && proto.data_type() != onnx::TensorProto::INT32)
        detail::unsupported("{}: the shape value '{}' is not an integer tensor", where_, name);
      const formats_detail::IntTensor ints = formats_detail::int_tensor_from_proto(proto);
      if (ints.data.size() > 64)
        detail::unsupported("{}: the shape value '{}' has {} entries", where_, name, ints.data.size());
      Shape out;
      for (std::int64_t v : ints.data) out.push_back(Dim{true, v, {}});
      return out;
    }
    const onnx::NodeProto& n = producer(name, depth, "shape");
    const std::string& op = n.op_type();
    auto input = [&](int i) {
      if (i >= n.input_size() || n.input(i).empty()) fail(n, fmt::format("lacks input {}", i));
      return shape(n.input(i), depth + 1);
    };
    if (op == "Shape") {
      std::string origin;
      const std::size_t on_path = data_ops.size();  // a shape's source is not on the data path
      const Value v = value(n.input(0), &origin, depth + 1);
      data_ops.resize(on_path);
      const std::int64_t rank = static_cast<std::int64_t>(v.size());
      std::int64_t start = int_attribute(n, "start", 0), end = int_attribute(n, "end", rank);
      if (start < 0) start += rank;
      if (end < 0) end += rank;
      start = std::clamp<std::int64_t>(start, 0, rank), end = std::clamp<std::int64_t>(end, 0, rank);
      Shape out;
      for (std::int64_t i = start; i < end; ++i) out.push_back(dim_of(v[i]));
      return out;
    }
    if (op == "Identity" || op == "Cast" || op == "Unsqueeze" || op == "Squeeze") return input(0);  // 0-d ~ 1-d
    if (op == "Gather") {
      if (int_attribute(n, "axis", 0) != 0) fail(n, "gathers along an axis other than 0 of a shape");
      const Shape data = input(0), indices = input(1);
      Shape out;
      for (const Dim& i : indices) {
        std::int64_t k = i.constant;
        if (!i.literal) fail(n, "has indices that are not constants");
        if (k < 0) k += static_cast<std::int64_t>(data.size());
        if (k < 0 || k >= static_cast<std::int64_t>(data.size()))
          fail(n, fmt::format("has index {} out of range", i.constant));
        out.push_back(data[k]);
      }
      return out;
    }
    if (op == "Concat") {
      if (int_attribute(n, "axis", 0) != 0) fail(n, "concatenates shapes along an axis other than 0");
      Shape out;
      for (int i = 0; i < n.input_size(); ++i) {
        const Shape part = input(i);
        out.insert(out.end(), part.begin(), part.end());
      }
      return out;
    }
    if (op == "Slice") {
      const Shape data = input(0);
      auto scalar = [&](int i, std::int64_t fallback) {
        if (i >= n.input_size() || n.input(i).empty()) return fallback;
        const Shape s = input(i);
        if (s.size() != 1 || !s[0].literal) fail(n, "slices a shape with inputs that are not one constant each");
        return s[0].constant;
      };
      const std::int64_t size = static_cast<std::int64_t>(data.size());
      if (scalar(3, 0) != 0 || scalar(4, 1) != 1) fail(n, "slices a shape other than along axis 0 with step 1");
      std::int64_t start = scalar(1, 0), end = scalar(2, size);
      if (start < 0) start += size;
      if (end < 0) end += size;
      start = std::clamp<std::int64_t>(start, 0, size), end = std::clamp<std::int64_t>(end, 0, size);
      return Shape(data.begin() + start, data.begin() + std::max(start, end));
    }
    if (op == "Mul") {
      const Shape a = input(0), b = input(1);
      if (a.size() != b.size() && a.size() != 1 && b.size() != 1) fail(n, "multiplies shapes of different lengths");
      Shape out;
      for (std::size_t i = 0; i < std::max(a.size(), b.size()); ++i)
        out.push_back(multiply(a[a.size() == 1 ? 0 : i], b[b.size() == 1 ? 0 : i]));
      return out;
    }
    fail(n, fmt::format("computes a shape with op {}, which lstmrt does not evaluate", op));
  }

  // Reshape: the factors keep their order and fill the target's axes. 0 copies the input's axis
  // (allowzero=0), -1 takes what the others leave.
  Value reshape(const onnx::NodeProto& n, const Value& in, const Shape& spec, bool allowzero) {
    std::vector<std::optional<Dim>> targets;
    int infer = -1;
    for (std::size_t j = 0; j < spec.size(); ++j) {
      const Dim& d = spec[j];
      if (d.literal && d.constant == 0 && !allowzero) {
        if (j >= in.size()) fail(n, fmt::format("copies axis {} of a rank-{} input", j, in.size()));
        targets.push_back(dim_of(in[j]));
      } else if (d.literal && d.constant == -1) {
        if (infer >= 0) fail(n, "has two -1 entries");
        infer = static_cast<int>(j);
        targets.push_back(std::nullopt);
      } else if (d.literal && d.constant <= 0) {
        fail(n, fmt::format("has the shape entry {}", d.constant));
      } else {
        targets.push_back(d);
      }
    }
    Axis stream;
    for (const Axis& a : in) stream.insert(stream.end(), a.begin(), a.end());
    std::size_t lo = 0, hi = stream.size();  // factors not yet placed: [lo, hi)
    Value out(targets.size());
    auto take = [&](std::size_t j, bool from_left) {
      const Dim& want = *targets[j];
      Dim have{false, 1, {}};
      Axis& axis = out[j];
      while (have.constant != want.constant || have.symbols != want.symbols) {
        if (lo == hi)
          fail(n,
               fmt::format("makes an axis of {} from {}: the sizes do not match", spec_string(spec), value_string(in)));
        const Factor f = from_left ? stream[lo++] : stream[--hi];
        if (f.size < 0) {
          const auto left = std::count(want.symbols.begin(), want.symbols.end(), f.label) -
                            std::count(have.symbols.begin(), have.symbols.end(), f.label);
          if (left <= 0)
            fail(n, fmt::format("regroups {} as {}: {} would land in the wrong axis", value_string(in),
                                spec_string(spec), f.label));
          have.symbols.push_back(f.label);
          std::sort(have.symbols.begin(), have.symbols.end());
        } else {
          if (want.constant % (have.constant * f.size) != 0)
            fail(n, fmt::format("regroups {} as {}: it would split or misplace {}", value_string(in), spec_string(spec),
                                f.label));
          have.constant *= f.size;
        }
        if (from_left)
          axis.push_back(f);
        else
          axis.insert(axis.begin(), f);
      }
    };
    const std::size_t left_end = infer >= 0 ? static_cast<std::size_t>(infer) : targets.size();
    for (std::size_t j = 0; j < left_end; ++j) take(j, true);
    if (infer >= 0) {
      for (std::size_t j = targets.size(); j-- > static_cast<std::size_t>(infer) + 1;) take(j, false);
      out[infer] = Axis(stream.begin() + lo, stream.begin() + hi);
      lo = hi;
    }
    if (lo != hi) fail(n, fmt::format("reshapes {} to {}: elements left over", value_string(in), spec_string(spec)));
    return out;
  }

  static std::string spec_string(const Shape& spec) {
    std::string s = "[";
    for (std::size_t i = 0; i < spec.size(); ++i) {
      const Dim& d = spec[i];
      std::string entry = d.symbols.empty() ? std::to_string(d.constant) : "";
      for (char c : d.symbols) entry += (entry.empty() ? "" : "·") + std::string(1, c);
      if (!d.symbols.empty() && d.constant != 1) entry += "·" + std::to_string(d.constant);
      s += (i ? ", " : "") + entry;
    }
    return s + "]";
  }

  const OnnxGraphView& g_;
  std::string where_;
  int evaluations_ = 0;
};

Axis factor(char label, std::int64_t size) { return Axis{Factor{label, size}}; }

// An LSTM node's Y: (T, D, N, H), or (N, T, D, H) with layout=1; D = 1 is an axis of size 1.
Value lstm_y(const OnnxLstmEnds& node) {
  const Axis t = factor('T', -1), n = factor('N', -1), h = factor('H', node.hidden_size);
  const Axis d = node.directions == 2 ? factor('D', 2) : Axis{};
  return node.layout == TensorLayout::kBatchMajor ? Value{n, t, d, h} : Value{t, d, n, h};
}

// What lstmrt feeds a layer: (T, N, D·H), or (N, T, D·H) batch-major; (T, N, I) for the first.
Value lstmrt_x(const OnnxLstmEnds& node, const Axis& features) {
  const Axis t = factor('T', -1), n = factor('N', -1);
  return node.layout == TensorLayout::kBatchMajor ? Value{n, t, features} : Value{t, n, features};
}

}  // namespace

void check_stack_joins(const OnnxGraphView& graph, const std::vector<OnnxLstmEnds>& nodes) {
  if (nodes.empty()) return;
  const OnnxLstmEnds& first = nodes.front();
  const std::string where0 = fmt::format("{}: {}", graph.source, first.label);
  // The first node: from a graph input, whose two leading axes are P and Q until the ops say.
  std::string input;
  Value x;
  {
    Evaluator e(graph, where0);
    for (const std::string& in : graph.inputs)
      e.roots[in] = Value{factor('P', -1), factor('Q', -1), factor('I', first.input_size)};
    x = e.value(first.x, &input);
    const Axis features = factor('I', first.input_size);
    const Value direct{factor('P', -1), factor('Q', -1), features}, swapped{factor('Q', -1), factor('P', -1), features};
    if (x != direct && x != swapped)
      detail::unsupported(
          "{}: X is the graph input '{}' rearranged by {} as {}: lstmrt takes (T, N, I) or (N, T, I) "
          "as given, at most with its first two axes swapped (a batch_first Transpose)",
          where0, input, e.path(), value_string(x));
    if (x == swapped && first.layout == TensorLayout::kBatchMajor)
      detail::unsupported(
          "{}: attribute layout is 1 but X passes through {}: lstmrt does not run the Transpose, so "
          "the graph input's layout is not the node's",
          where0, e.path());
    // P is time when X is time-major as given, batch when a Transpose swapped them in.
    const bool p_is_time = (x == direct) == (first.layout == TensorLayout::kTimeMajor);
    x = p_is_time ? Value{factor('T', -1), factor('N', -1), features}
                  : Value{factor('N', -1), factor('T', -1), features};
  }
  for (std::size_t k = 1; k < nodes.size(); ++k) {
    const OnnxLstmEnds& prev = nodes[k - 1];
    const OnnxLstmEnds& next = nodes[k];
    const std::string where = fmt::format("{}: {}", graph.source, next.label);
    Evaluator e(graph, where);
    e.roots[input] = x;
    for (const OnnxLstmEnds& n : nodes)
      if (!n.y.empty()) e.roots[n.y] = lstm_y(n);
    std::string origin;
    const Value got = e.value(next.x, &origin);
    if (prev.y.empty() || origin != prev.y)
      detail::unsupported("{}: X comes from '{}', not from the previous LSTM node's Y{}: lstmrt imports a stack", where,
                          origin, prev.y.empty() ? " (it has no Y output)" : " ('" + prev.y + "')");
    Axis features;
    if (prev.directions == 2) features.push_back(Factor{'D', 2});
    features.push_back(Factor{'H', prev.hidden_size});
    const Value want = lstmrt_x(next, features);
    if (got != want)
      detail::unsupported(
          "{}: X is the previous LSTM node's Y rearranged by {} as {}, not {}: lstmrt joins stacked "
          "layers as Y transposed to (T, N, D, H) and merged to (T, N, D·H) (PyTorch: "
          "Transpose(perm=[0, 2, 1, 3]) + Reshape([0, 0, -1]), or Squeeze of the D axis when D = 1)",
          where, e.path(), value_string(got), value_string(want));
  }
}

}  // namespace lstmrt::formats_detail
