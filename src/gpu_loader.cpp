// Finding and loading cuDNN, cuBLAS and the GPU module: see gpu_loader.hpp for the search order.
#include "gpu_loader.hpp"

#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <functional>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/check.hpp"
#include "gpu_loader_config.hpp"
#include "lstmrt/version.hpp"

namespace lstmrt::detail {
namespace {

std::mutex roots_mutex;
std::vector<std::string>& extra_roots() {
  static std::vector<std::string> roots;
  return roots;
}

std::vector<std::string> split_path(const std::string& list) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (begin <= list.size()) {
    const std::size_t end = std::min(list.find(':', begin), list.size());
    if (end > begin) out.push_back(list.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string dl_error() {
  const char* e = dlerror();
  return e ? e : "unknown dlopen error";
}

std::string loaded_from(void* handle, const std::string& fallback) {
  link_map* map = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && map->l_name[0]) return map->l_name;
  return fallback;
}

// ROOT/nvidia/*/lib for each root: the folders the nvidia-* pip packages put their libraries in
// (nvidia/cudnn/lib, nvidia/cublas/lib, nvidia/cu13/lib, ...).
std::vector<std::string> pip_library_dirs(const std::vector<std::string>& roots) {
  std::vector<std::string> dirs;
  for (const std::string& root : roots) {
    const std::string nvidia = root + "/nvidia";
    DIR* d = ::opendir(nvidia.c_str());
    if (!d) continue;
    std::vector<std::string> found;
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      const std::string lib = nvidia + "/" + name + "/lib";
      if (::stat(lib.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) found.push_back(lib);
    }
    ::closedir(d);
    std::sort(found.begin(), found.end());
    for (std::string& f : found)
      if (std::find(dirs.begin(), dirs.end(), f) == dirs.end()) dirs.push_back(std::move(f));
  }
  return dirs;
}

struct SearchPlan {
  bool exclusive = false;               // LSTMRT_GPU_LIBRARY_PATH is set: only env_dirs
  std::vector<std::string> env_dirs;    // LSTMRT_GPU_LIBRARY_PATH
  std::vector<std::string> pip_dirs;    // ROOT/nvidia/*/lib
  std::vector<std::string> build_dirs;  // where the build found the libraries

  std::string describe() const {
    if (exclusive) return fmt::format("LSTMRT_GPU_LIBRARY_PATH={}", fmt::join(env_dirs, ":"));
    std::vector<std::string> places{"the libraries already loaded"};
    if (!pip_dirs.empty())
      places.push_back(fmt::format("{}", fmt::join(pip_dirs, ", ")));
    else
      places.push_back("nvidia/*/lib of the Python package folders (none found)");
    places.push_back("the system search path (LD_LIBRARY_PATH, RUNPATH, ld.so.cache)");
    for (const std::string& d : build_dirs) places.push_back(d);
    return fmt::format("{}", fmt::join(places, ", "));
  }
};

SearchPlan make_search_plan() {
  SearchPlan plan;
  if (const char* env = std::getenv("LSTMRT_GPU_LIBRARY_PATH")) {
    plan.exclusive = true;
    plan.env_dirs = split_path(env);
    return plan;
  }
  std::vector<std::string> roots;
  {
    std::lock_guard<std::mutex> lock(roots_mutex);
    roots = extra_roots();
  }
  const std::string here = core_binary_dir();
  if (!here.empty()) roots.push_back(here + "/..");
  plan.pip_dirs = pip_library_dirs(roots);
  plan.build_dirs = split_path(LSTMRT_BUILD_LIBRARY_DIRS);
  return plan;
}

struct Loaded {
  void* handle = nullptr;
  std::string path;
};

// Loads `soname` following `plan`; `accept` returns "" for a usable copy, else why not. On failure
// returns a null handle and sets *problem.
Loaded load_library(const std::string& what, const std::string& soname, const SearchPlan& plan,
                    const std::function<std::string(void*)>& accept, std::string* problem) {
  std::vector<std::string> refusals;  // candidates that exist but could not be used
  auto try_open = [&](const std::string& name, bool by_path) -> Loaded {
    if (by_path && !is_file(name)) return {};
    dlerror();
    void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      if (by_path) refusals.push_back(fmt::format("{}: {}", name, dl_error()));
      return {};
    }
    const std::string path = loaded_from(h, name);
    const std::string why = accept(h);
    if (!why.empty()) {
      refusals.push_back(fmt::format("{}: {}", path, why));
      dlclose(h);
      return {};
    }
    return {h, path};
  };

  dlerror();
  if (void* h = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD)) {
    const std::string path = loaded_from(h, soname);
    const std::string why = accept(h);
    if (why.empty()) return {h, path};
    *problem =
        fmt::format("{} ({}) already loaded in this process from {} cannot be used: {}", what, soname, path, why);
    dlclose(h);
    return {};
  }
  if (plan.exclusive) {
    for (const std::string& d : plan.env_dirs)
      if (Loaded l = try_open(d + "/" + soname, true); l.handle) return l;
  } else {
    for (const std::string& d : plan.pip_dirs)
      if (Loaded l = try_open(d + "/" + soname, true); l.handle) return l;
    if (Loaded l = try_open(soname, false); l.handle) return l;
    for (const std::string& d : plan.build_dirs)
      if (Loaded l = try_open(d + "/" + soname, true); l.handle) return l;
  }
  *problem = refusals.empty() ? fmt::format("{} ({}) not found; looked in {}", what, soname, plan.describe())
                              : fmt::format("{} ({}) could not be loaded: {}; looked in {}", what, soname,
                                            fmt::join(refusals, "; "), plan.describe());
  return {};
}

template <typename F>
F symbol(void* handle, const char* name) {
  return reinterpret_cast<F>(dlsym(handle, name));
}

std::string accept_cudnn(void* h) {
  using GetVersion = std::size_t (*)();
  const auto get = symbol<GetVersion>(h, "cudnnGetVersion");
  if (!get) return "no cudnnGetVersion: not a cuDNN library";
  const std::size_t v = get();
  if (v / 10000 != LSTMRT_CUDNN_MAJOR)
    return fmt::format("version {} is not cuDNN {} (built against {})", v, LSTMRT_CUDNN_MAJOR, LSTMRT_CUDNN_MAJOR);
  return "";
}

std::string accept_cublas(void* h) {
  return symbol<void*>(h, "cublasCreate_v2") ? "" : "no cublasCreate_v2: not a cuBLAS library";
}

std::string accept_cublaslt(void* h) {
  return symbol<void*>(h, "cublasLtCreate") ? "" : "no cublasLtCreate: not a cuBLASLt library";
}

// The module, found as gpu_loader.hpp says.
void load_module(GpuLibraries& out) {
  std::vector<std::string> candidates;
  bool explicit_path = false;
  if (const char* env = std::getenv("LSTMRT_GPU_MODULE")) {
    candidates.push_back(env);
    explicit_path = true;
  } else {
    const std::string here = core_binary_dir();
    if (!here.empty()) {
      candidates.push_back(here + "/" LSTMRT_GPU_MODULE_FILE);
      const std::size_t slash = here.rfind('/');
      if (slash != std::string::npos) candidates.push_back(here.substr(0, slash) + "/lib/" LSTMRT_GPU_MODULE_FILE);
    }
    candidates.push_back(LSTMRT_GPU_MODULE_FILE);  // by name: RUNPATH, LD_LIBRARY_PATH
    candidates.push_back(LSTMRT_BUILD_MODULE_PATH);
  }
  std::vector<std::string> tried;
  for (const std::string& c : candidates) {
    const bool by_name = c.find('/') == std::string::npos;
    if (!by_name && !is_file(c)) {
      tried.push_back(fmt::format("{} (absent)", c));
      continue;
    }
    dlerror();
    void* h = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const std::string e = dl_error();
      tried.push_back(by_name ? fmt::format("{} by name (not found)", c) : fmt::format("{} ({})", c, e));
      continue;
    }
    const auto entry = symbol<gpu_module::ModuleEntry>(h, gpu_module::kModuleEntryName);
    const gpu_module::GpuModuleApi* api = entry ? entry() : nullptr;
    const std::string path = loaded_from(h, c);
    const std::string expected = gpu_module::build_id(version());
    if (!api || api->abi_version != gpu_module::kAbiVersion || expected != api->build_id) {
      tried.push_back(fmt::format("{} (not this build's GPU module: {}, expected {})", path,
                                  api ? api->build_id : "no entry point", expected));
      dlclose(h);
      continue;
    }
    out.api = api;
    out.module_path = path;
    api->versions(&out.versions);
    return;
  }
  out.problem = fmt::format("the GPU module {} could not be loaded: tried {}{}", LSTMRT_GPU_MODULE_FILE,
                            fmt::join(tried, ", "), explicit_path ? " (LSTMRT_GPU_MODULE)" : "");
}

GpuLibraries load_everything() {
  GpuLibraries out;
  const SearchPlan plan = make_search_plan();
  const Loaded cudnn = load_library("cuDNN " + std::to_string(LSTMRT_CUDNN_MAJOR), LSTMRT_CUDNN_SONAME, plan,
                                    accept_cudnn, &out.problem);
  if (!cudnn.handle) return out;
  // cuBLASLt first: libcublas.so.N needs it (DT_NEEDED), and binds to this copy.
  const Loaded lt = load_library("cuBLASLt", LSTMRT_CUBLASLT_SONAME, plan, accept_cublaslt, &out.problem);
  if (!lt.handle) return out;
  const Loaded cublas = load_library("cuBLAS", LSTMRT_CUBLAS_SONAME, plan, accept_cublas, &out.problem);
  if (!cublas.handle) return out;
  out.cudnn_path = cudnn.path;
  out.cublaslt_path = lt.path;
  out.cublas_path = cublas.path;
  // The handles stay open for the life of the process: the module binds to these copies.
  load_module(out);
  return out;
}

}  // namespace

const GpuLibraries& gpu_libraries() {
  static const GpuLibraries libraries = load_everything();
  return libraries;
}

const gpu_module::GpuModuleApi& require_gpu_module(const std::string& backend_name) {
  const GpuLibraries& libs = gpu_libraries();
  if (!libs.api) unsupported("backend {}: {}", backend_name, libs.problem);
  return *libs.api;
}

void add_library_roots(const std::vector<std::string>& roots) {
  std::lock_guard<std::mutex> lock(roots_mutex);
  for (const std::string& r : roots)
    if (!r.empty() && std::find(extra_roots().begin(), extra_roots().end(), r) == extra_roots().end())
      extra_roots().push_back(r);
}

std::string core_binary_dir() {
  struct Query {
    const void* address;
    std::string path;
    bool found = false;
  } query{reinterpret_cast<const void*>(&core_binary_dir), {}, false};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) -> int {
        auto* q = static_cast<Query*>(data);
        const auto addr = reinterpret_cast<ElfW(Addr)>(q->address);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD) continue;
          const ElfW(Addr) begin = info->dlpi_addr + ph.p_vaddr;
          if (addr >= begin && addr < begin + ph.p_memsz) {
            q->path = info->dlpi_name ? info->dlpi_name : "";
            q->found = true;
            return 1;
          }
        }
        return 0;
      },
      &query);
  std::string path = query.path;
  if (!query.found) return "";
  if (path.empty()) {  // the main program
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    path.assign(buf, static_cast<std::size_t>(n));
  }
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved)) path = resolved;
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

}  // namespace lstmrt::detail
