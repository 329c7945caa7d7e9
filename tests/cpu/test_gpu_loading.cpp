// Lazy loading of the GPU backends (gpu_loader.hpp): the core maps no CUDA library until a GPU
// backend (or query_system) is used; cuDNN and cuBLAS are found in the order the header gives,
// pip-package layouts included; whatever cannot be loaded is named with where lstmrt looked; with
// no NVIDIA driver the messages say so. The loader and the driver probe run once per process, so
// every scenario runs in a forked child (in_child) with its own environment, and the parent
// never loads anything.
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "common/golden_files.hpp"
#include "gpu_loader.hpp"
#include "lstmrt/lstmrt.hpp"
#include "system_probe.hpp"

namespace lstmrt {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

bool mapped(const std::string& fragment) { return slurp("/proc/self/maps").find(fragment) != std::string::npos; }

bool contains(const std::string& s, const std::string& fragment) { return s.find(fragment) != std::string::npos; }

struct ChildResult {
  bool ok = false;
  std::string message;
};

// Runs `fn` in a forked child (fresh loader state as long as the parent never loaded) and returns
// its verdict and message.
ChildResult in_child(const std::function<ChildResult()>& fn) {
  int fds[2];
  if (pipe(fds) != 0) return {false, "pipe failed"};
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    ChildResult r;
    try {
      r = fn();
    } catch (const std::exception& e) {
      r = {false, std::string("exception: ") + e.what()};
    }
    const std::string out = r.message;
    if (write(fds[1], out.data(), out.size()) < 0) std::_Exit(3);
    close(fds[1]);
    std::_Exit(r.ok ? 0 : 1);
  }
  close(fds[1]);
  ChildResult r;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) r.message.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return r;
}

// Where the loader finds cuDNN and cuBLAS with the default search (asked in a child).
struct RealLibraries {
  std::string cudnn, cublaslt, cublas;
};
RealLibraries real_libraries() {
  const ChildResult r = in_child([] {
    const detail::GpuLibraries& libs = detail::gpu_libraries();
    return ChildResult{libs.api != nullptr,
                       libs.cudnn_path + "\n" + libs.cublaslt_path + "\n" + libs.cublas_path + "\n" + libs.problem};
  });
  RealLibraries out;
  std::istringstream lines(r.message);
  std::getline(lines, out.cudnn);
  std::getline(lines, out.cublaslt);
  std::getline(lines, out.cublas);
  return out;
}

class GpuLoading : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("LSTMRT_GPU_LIBRARY_PATH");
    unsetenv("LSTMRT_GPU_MODULE");
  }
  test::ScratchDir dir_;
};

TEST_F(GpuLoading, CoreMapsNoCudaLibraryUntilAsked) {
  const ChildResult r = in_child([] {
    ModelDesc desc;
    desc.input_size = 3, desc.hidden_size = 4;
    const Weights w = random_weights(desc, 7, 0.5f);
    Lstm lstm = Lstm::create(desc, w, {BackendKind::kAuto});  // the reference here (or a GPU backend)
    if (lstm.backend_name() != "reference") return ChildResult{true, "OK: a GPU is present"};
    std::vector<float> x(2 * 3 * 3, 0.25f), y(2 * 3 * 4, -1.0f);
    ForwardRequest req;
    req.seq_len = 2, req.batch = 3, req.x = x.data(), req.y = y.data();
    lstm.forward_host(req);
    const bool none_before = !mapped("libcudnn") && !mapped("libcublas") && !mapped("liblstmrt_gpu");
    const SystemInfo info = query_system();
    const bool all_after = mapped("libcudnn.so") && mapped("libcublasLt.so") && mapped("liblstmrt_gpu.so");
    return ChildResult{none_before && all_after && info.gpu_libraries_status == "ok" && info.cudnn_version / 10000 == 9,
                       "before: " + std::to_string(none_before) + " after: " + std::to_string(all_after) +
                           " status: " + info.gpu_libraries_status};
  });
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_F(GpuLoading, CreatingAGpuBackendWithoutADriverSaysSoAndLoadsNothing) {
  const ChildResult r = in_child([] {
    if (gpu_available()) return ChildResult{true, "a GPU is present"};
    ModelDesc desc;
    desc.input_size = 3, desc.hidden_size = 4;
    const Weights w = random_weights(desc, 7, 0.5f);
    std::string message;
    ErrorCode code = ErrorCode::kInternal;
    try {
      Lstm::create(desc, w, {BackendKind::kCudnn});
    } catch (const Error& e) {
      message = e.what(), code = e.code();
    }
    return ChildResult{code == ErrorCode::kNoDevice && contains(message, "backend cudnn needs a CUDA GPU") &&
                           (contains(message, "no NVIDIA driver") || contains(message, "no CUDA devices")) &&
                           !contains(message, "insufficient") && !mapped("libcudnn"),
                       message};
  });
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_F(GpuLoading, NoDriverIsNamedAsSuch) {
  const ChildResult r = in_child([] {
    if (gpu_available()) return ChildResult{true, "a GPU is present"};
    const std::string status = probe_gpus().status;
    // libcuda.so.1 absent, a stub, or a driver that sees no device: never "insufficient".
    return ChildResult{!contains(status, "insufficient") &&
                           (contains(status, "no NVIDIA driver") || contains(status, "found no CUDA devices")),
                       status};
  });
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_F(GpuLoading, ToolkitStubDriverIsNamed) {
  const fs::path stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (!fs::exists(stub)) GTEST_SKIP() << "no CUDA toolkit stub at " << stub;
  fs::create_directories(dir_.file("stub"));
  fs::create_symlink(stub, dir_.file("stub/libcuda.so.1"));
  const std::string stub_dir = dir_.file("stub");
  const ChildResult r = in_child([&] {
    // The probe dlopens libcuda.so.1 by name (LD_LIBRARY_PATH is read at process start): load the
    // stub under that name first, so that the probe finds it already loaded.
    if (!dlopen((stub_dir + "/libcuda.so.1").c_str(), RTLD_NOW | RTLD_GLOBAL)) return ChildResult{false, "no stub"};
    const std::string s = probe_gpus().status;
    return ChildResult{contains(s, "no NVIDIA driver: libcuda.so.1 is the CUDA toolkit's stub library"), s};
  });
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_F(GpuLoading, MissingLibraryNamesItAndWhereItLooked) {
  const ChildResult r = in_child([] {
    setenv("LSTMRT_GPU_LIBRARY_PATH", "/nonexistent/a:/nonexistent/b", 1);
    const SystemInfo info = query_system();
    std::string message;
    try {
      detail::require_gpu_module("cudnn");
    } catch (const Error& e) {
      message = e.what();
    }
    return ChildResult{info.cudnn_version == 0 && info.gpu_module_path.empty() &&
                           contains(info.gpu_libraries_status,
                                    "cuDNN 9 (libcudnn.so.9) not found; looked in "
                                    "LSTMRT_GPU_LIBRARY_PATH=/nonexistent/a:/nonexistent/b") &&
                           contains(message, "backend cudnn: cuDNN 9 (libcudnn.so.9) not found") && !mapped("libcudnn"),
                       info.gpu_libraries_status + " | " + message};
  });
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_F(GpuLoading, LaterLibrariesAreNamedToo) {
  // cuDNN present, cuBLAS not: the message names cuBLASLt (loaded before cuBLAS).
  const RealLibraries real = real_libraries();
  ASSERT_FALSE(real.cudnn.empty());
  fs::create_directories(dir_.file("only_cudnn"));
  fs::create_symlink(real.cudnn, dir_.file("only_cudnn/libcudnn.so.9"));
  const std::string only = dir_.file("only_cudnn");
  const ChildResult r = in_child([&] {
    setenv("LSTMRT_GPU_LIBRARY_PATH", only.c_str(), 1);
    const detail::GpuLibraries& libs = detail::gpu_libraries();
    return ChildResult{!libs.api && contains(libs.problem, "cuBLASLt (libcublasLt.so.") &&
                           contains(libs.problem, "not found; looked in LSTMRT_GPU_LIBRARY_PATH=" + only),
                       libs.problem};
  });
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_F(GpuLoading, CorruptAndForeignLibrariesAreRefusedNamingTheFile) {
  fs::create_directories(dir_.file("corrupt"));
  std::ofstream(dir_.file("corrupt/libcudnn.so.9")) << "not an ELF file";
  const std::string corrupt = dir_.file("corrupt");
  ChildResult r = in_child([&] {
    setenv("LSTMRT_GPU_LIBRARY_PATH", corrupt.c_str(), 1);
    const detail::GpuLibraries& libs = detail::gpu_libraries();
    return ChildResult{!libs.api && contains(libs.problem, "cuDNN 9 (libcudnn.so.9) could not be loaded: " + corrupt +
                                                               "/libcudnn.so.9: "),
                       libs.problem};
  });
  EXPECT_TRUE(r.ok) << r.message;

  // A real library that is not cuDNN, under cuDNN's name.
  const RealLibraries real = real_libraries();
  ASSERT_FALSE(real.cublaslt.empty());
  fs::create_directories(dir_.file("foreign"));
  fs::create_symlink(real.cublaslt, dir_.file("foreign/libcudnn.so.9"));
  const std::string foreign = dir_.file("foreign");
  r = in_child([&] {
    setenv("LSTMRT_GPU_LIBRARY_PATH", foreign.c_str(), 1);
    const detail::GpuLibraries& libs = detail::gpu_libraries();
    return ChildResult{!libs.api && contains(libs.problem, "no cudnnGetVersion: not a cuDNN library"), libs.problem};
  });
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_F(GpuLoading, PipPackageLayoutIsFoundBeforeTheSystemCopies) {
  // ROOT/nvidia/cudnn/lib and ROOT/nvidia/cublas/lib, as the nvidia-* wheels PyTorch depends on.
  const RealLibraries real = real_libraries();
  ASSERT_FALSE(real.cudnn.empty() || real.cublaslt.empty() || real.cublas.empty());
  const fs::path site = dir_.file("site-packages");
  fs::create_directories(site / "nvidia/cudnn/lib");
  fs::create_directories(site / "nvidia/cublas/lib");
  // Links (dlopen reports the path it opened). libcudnn.so.9 is a small shim that loads its engines
  // from its own folder: link those too.
  fs::create_symlink(real.cudnn, site / "nvidia/cudnn/lib/libcudnn.so.9");
  for (const auto& e : fs::directory_iterator(fs::path(real.cudnn).parent_path()))
    if (e.path().filename().string().rfind("libcudnn_", 0) == 0)
      fs::create_symlink(e.path(), site / "nvidia/cudnn/lib" / e.path().filename());
  fs::create_symlink(real.cublaslt, site / "nvidia/cublas/lib" / fs::path(real.cublaslt).filename());
  fs::create_symlink(real.cublas, site / "nvidia/cublas/lib" / fs::path(real.cublas).filename());
  const std::string root = site.string();
  const ChildResult r = in_child([&] {
    detail::add_library_roots({root});
    const detail::GpuLibraries& libs = detail::gpu_libraries();
    const std::string lib = root + "/nvidia/";
    return ChildResult{libs.api && libs.cudnn_path == lib + "cudnn/lib/libcudnn.so.9" &&
                           libs.cublaslt_path.rfind(lib + "cublas/lib/libcublasLt.so.", 0) == 0 &&
                           libs.cublas_path.rfind(lib + "cublas/lib/libcublas.so.", 0) == 0,
                       libs.problem + " | " + libs.cudnn_path + " | " + libs.cublaslt_path + " | " + libs.cublas_path};
  });
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_F(GpuLoading, ModuleOverrideAndForeignModule) {
  ChildResult r = in_child([] {
    setenv("LSTMRT_GPU_MODULE", "/nonexistent/liblstmrt_gpu.so", 1);
    const detail::GpuLibraries& libs = detail::gpu_libraries();
    return ChildResult{!libs.api && contains(libs.problem,
                                             "the GPU module liblstmrt_gpu.so could not be loaded: tried "
                                             "/nonexistent/liblstmrt_gpu.so (absent) (LSTMRT_GPU_MODULE)"),
                       libs.problem};
  });
  EXPECT_TRUE(r.ok) << r.message;
  // A shared object that is not lstmrt's module (no entry point) is refused, naming it.
  const RealLibraries real = real_libraries();
  r = in_child([&] {
    setenv("LSTMRT_GPU_MODULE", real.cublaslt.c_str(), 1);
    const detail::GpuLibraries& libs = detail::gpu_libraries();
    return ChildResult{!libs.api && contains(libs.problem, "not this build's GPU module: no entry point"),
                       libs.problem};
  });
  EXPECT_TRUE(r.ok) << r.message;
}

TEST_F(GpuLoading, CliNeedsNoCudaLibraryToStart) {
  // The executable names none of them; `info` runs with them unreachable and says why.
  const std::string elf = dir_.file("readelf.txt");
  ASSERT_EQ(std::system(("readelf -d '" LSTMRT_CLI_PATH "' > '" + elf + "'").c_str()), 0);
  const std::string needed = slurp(elf);
  EXPECT_FALSE(contains(needed, "libcudnn") || contains(needed, "libcublas") || contains(needed, "libcudart"))
      << needed;
  const std::string cmd =
      "LSTMRT_GPU_LIBRARY_PATH=/nonexistent '" LSTMRT_CLI_PATH "' info > '" + dir_.file("info.txt") + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const std::string info = slurp(dir_.file("info.txt"));
  EXPECT_TRUE(contains(info, "cuDNN: not loadable")) << info;
  EXPECT_TRUE(contains(info,
                       "GPU module: not loaded: cuDNN 9 (libcudnn.so.9) not found; looked in "
                       "LSTMRT_GPU_LIBRARY_PATH=/nonexistent"))
      << info;
  EXPECT_TRUE(contains(info, "backends usable here: reference")) << info;
}

}  // namespace
}  // namespace lstmrt
