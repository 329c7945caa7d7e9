#include "cli/run_files.hpp"

#include <cctype>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "common/check.hpp"

namespace lstmrt::cli {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) { return a > kMax - b ? kMax : a + b; }

// "123", "64K", "1.5G", "2GiB", "100MB": bytes (K, M, G, T are powers of 1024).
std::uint64_t parse_size(const std::string& text) {
  std::size_t end = 0;
  double value = -1;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
  }
  std::string unit = text.substr(end);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  const std::string units = "KMGT";
  double scale = 1;
  if (!unit.empty()) {
    const std::size_t at = unit.size() == 1 ? units.find(unit[0]) : std::string::npos;
    if (at == std::string::npos) value = -1;
    for (std::size_t i = 0; i <= at && at != std::string::npos; ++i) scale *= 1024;
  }
  if (!(value >= 0) || value * scale > 1.8e19)
    detail::invalid("--memory-limit {}: expected a size in bytes such as 800M, 16G or 1.5T", text);
  return static_cast<std::uint64_t>(value * scale);
}

// MemAvailable from /proc/meminfo, lowered to what the cgroup (v2) still allows.
std::optional<std::uint64_t> available_memory(std::string* source) {
  std::optional<std::uint64_t> available;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    std::istringstream fields(line);
    std::string key;
    std::uint64_t kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") {
      available = kib * 1024;
      *source = "MemAvailable in /proc/meminfo";
    }
  }
  std::ifstream max_file("/sys/fs/cgroup/memory.max"), current_file("/sys/fs/cgroup/memory.current");
  std::string max_text;
  std::uint64_t current = 0;
  if (max_file >> max_text && max_text != "max" && current_file >> current) {
    const std::uint64_t limit = std::stoull(max_text);
    const std::uint64_t left = limit > current ? limit - current : 0;
    if (!available || left < *available) {
      available = left;
      *source = "the memory cgroup's limit";
    }
  }
  return available;
}

}  // namespace

void check_output_path(const RunOptions& o, const std::vector<std::pair<std::string, std::string>>& extra) {
  std::optional<FileIdentity> out;
  try {
    out = lstmrt::check_output_path(o.output);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("--output {}", e.what()));
  }
  if (!out) return;  // a new file cannot be an input
  std::vector<std::pair<std::string, std::string>> inputs = {
      {"--weights", o.weights}, {"--lengths", o.lengths}, {"--h0", o.h0}, {"--c0", o.c0}};
  for (const std::string& input : o.inputs) inputs.emplace_back("--input", input);
  inputs.insert(inputs.end(), extra.begin(), extra.end());
  for (const auto& [option, path] : inputs)
    if (!path.empty() && file_identity(path) == out)
      detail::invalid("--output {} is the same file as {} {}: writing it would destroy an input; choose another output",
                      o.output, option, path);
}

std::uint64_t float32_bytes(const std::vector<std::int64_t>& shape) {
  std::uint64_t bytes = 4;
  for (std::int64_t d : shape) {
    const auto dim = static_cast<std::uint64_t>(d < 0 ? 0 : d);
    bytes = dim != 0 && bytes > kMax / dim ? kMax : bytes * dim;
  }
  return bytes;
}

std::string byte_string(std::uint64_t bytes) {
  if (bytes == kMax) return "more than 16 EiB";
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

void check_host_memory(const RunOptions& o, const std::string& cause, const std::vector<MemoryNeed>& needs) {
  std::uint64_t total = 0;
  std::string items;
  for (const MemoryNeed& n : needs) {
    if (n.bytes == 0) continue;
    total = saturating_add(total, n.bytes);
    items += fmt::format("{}{} {}", items.empty() ? "" : ", ", n.what, byte_string(n.bytes));
  }
  std::string source = "--memory-limit";
  std::optional<std::uint64_t> limit;
  if (!o.memory_limit.empty())
    limit = parse_size(o.memory_limit);
  else
    limit = available_memory(&source);
  if (!limit || total <= *limit) return;
  detail::unsupported(
      "{} needs {} of host memory ({}) but {} is available ({}): use a shorter or smaller batch of "
      "input, --state to skip y, or --memory-limit",
      cause, byte_string(total), items, byte_string(*limit), source);
}

std::vector<MemoryNeed> model_memory_needs(const ImportedModel& model, const BackendOptions& options, int T, int B) {
  const bool reference =
      options.kind == BackendKind::kReference || (options.kind == BackendKind::kAuto && !gpu_available());
  const std::int64_t steps = static_cast<std::int64_t>(T) * B;
  // Every node's outputs are kept until the model's outputs are assembled (a graph may read any
  // earlier value): the sequences held add up; on top of them, the LSTM node whose y and working
  // memory are largest.
  std::uint64_t held = 0;
  MemoryNeed peak{"", 0};
  for (const ImportedNode& node : model.nodes) {
    const bool sequence = node.kind != NodeKind::kLstm || node.return_sequences;
    const int outputs = node.kind == NodeKind::kLstm && node.merge == MergeMode::kNone ? 2 : 1;
    const std::int64_t width = node.kind == NodeKind::kLstm ? node.output_width() : 0;
    held = saturating_add(held, float32_bytes({sequence ? steps : B, width * outputs}));
    if (node.kind != NodeKind::kLstm) continue;
    const std::int64_t y_width = static_cast<std::int64_t>(node.desc.num_directions()) * node.desc.output_size();
    std::uint64_t bytes = float32_bytes({steps, node.desc.input_size + y_width});
    if (reference) {
      BackendOptions ref = options;
      ref.kind = BackendKind::kReference;
      bytes = saturating_add(bytes, Lstm::create(node.desc, node.weights, ref).host_workspace_size(T, B));
    }
    if (bytes > peak.bytes)
      peak = {fmt::format("layer '{}' (its input and y{})", node.name,
                          reference ? ", reference backend working memory" : ""),
              bytes};
  }
  return {peak, {"the layers' outputs", held}};
}

std::string shapes_string(const ArrayViewMap& arrays) {
  std::string out;
  for (const auto& [name, view] : arrays)
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", name, shape_string(view.shape));
  return out;
}

void write_outputs(const RunOptions& o, const ArrayViewMap& arrays, std::ostream& log) {
  try {
    save_npz_views(o.output, arrays);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("--output {}", e.what()));
  }
  if (!o.quiet) log << fmt::format("lstmrt: wrote {}: {}\n", o.output, shapes_string(arrays));
}

}  // namespace lstmrt::cli
