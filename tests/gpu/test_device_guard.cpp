// The one device switch (src/common/device_guard.hpp) on a GPU: a refused device leaves the
// caller's current device as it was; a guard restores the caller's device at scope exit; and
// every Lstm call of a GPU backend on device 0 leaves the calling thread on its own device 1
// (the second part needs two GPUs).
#include <cmath>
#include <vector>

#include "common/device_guard.hpp"
#include "common/expect_error.hpp"
#include "gpu_test.hpp"
#include "lstmrt/lstmrt.hpp"

namespace lstmrt {
namespace {

class DeviceGuardGpu : public test::GpuTest {
 protected:
  static int current_device() {
    int device = -1;
    EXPECT_EQ(cudaGetDevice(&device), cudaSuccess);
    return device;
  }
  static int device_count() {
    int count = 0;
    EXPECT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
    return count;
  }
};

TEST_F(DeviceGuardGpu, RefusedDeviceNamesTheCallAndLeavesTheCurrentOne) {
  const int count = device_count();
  for (int bad : {count, count + 7, -1}) {
    test::expect_error([&] { const detail::DeviceGuard guard(bad); }, ErrorCode::kCudaError,
                       {"cudaSetDevice", "cudaErrorInvalidDevice"});
    EXPECT_EQ(current_device(), 0) << "device " << bad;
    (void)cudaGetLastError();  // the refused call's error, reported above
  }
}

TEST_F(DeviceGuardGpu, GuardOnTheCurrentDeviceChangesNothing) {
  {
    const detail::DeviceGuard outer(0);
    EXPECT_EQ(current_device(), 0);
    {
      const detail::DeviceGuard inner(0);
      EXPECT_EQ(current_device(), 0);
    }
    EXPECT_EQ(current_device(), 0);
  }
  EXPECT_EQ(current_device(), 0);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST_F(DeviceGuardGpu, RestoresTheCallersDevice) {
  if (device_count() < 2) GTEST_SKIP() << "needs two GPUs: this machine has " << device_count();
  LSTMRT_TEST_CUDA(cudaSetDevice(1));
  {
    const detail::DeviceGuard guard(0);
    EXPECT_EQ(current_device(), 0);
    {
      const detail::DeviceGuard back(1);  // nested: switches and restores again
      EXPECT_EQ(current_device(), 1);
    }
    EXPECT_EQ(current_device(), 0);
  }
  EXPECT_EQ(current_device(), 1);
  try {  // a guard left by an exception restores too
    const detail::DeviceGuard guard(0);
    throw Error(ErrorCode::kInternal, "planted");
  } catch (const Error&) {
  }
  EXPECT_EQ(current_device(), 1);
  LSTMRT_TEST_CUDA(cudaSetDevice(0));
}

// Every call of a GPU backend on device 0 made from a thread whose current device is 1 computes
// on device 0 and returns with device 1 current (forward_host included: it stages through device
// buffers on the backend's device).
TEST_F(DeviceGuardGpu, LstmCallsLeaveTheCallersDeviceSelected) {
  if (device_count() < 2) GTEST_SKIP() << "needs two GPUs: this machine has " << device_count();
  ModelDesc d;
  d.input_size = 5;
  d.hidden_size = 8;
  d.num_layers = 2;
  const Weights w = random_weights(d, 11, 1.0f / std::sqrt(8.0f));
  const int T = 4, N = 3;
  std::vector<float> x(T * N * d.input_size);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i));
  for (BackendKind kind : {BackendKind::kCudnn, BackendKind::kFused}) {
    SCOPED_TRACE(to_string(kind));
    LSTMRT_TEST_CUDA(cudaSetDevice(1));
    BackendOptions options;
    options.kind = kind;
    options.device = 0;
    {
      Lstm lstm = Lstm::create(d, w, options);
      EXPECT_EQ(current_device(), 1) << "after create";
      lstm.reserve(T, N);
      EXPECT_EQ(current_device(), 1) << "after reserve";
      (void)lstm.execution_plan(T, N);
      EXPECT_EQ(current_device(), 1) << "after execution_plan";
      std::vector<float> y(T * N * d.hidden_size, std::nanf(""));
      ForwardRequest req;
      req.seq_len = T;
      req.batch = N;
      req.x = x.data();
      req.y = y.data();
      lstm.forward_host(req);
      EXPECT_EQ(current_device(), 1) << "after forward_host";
      for (float v : y) ASSERT_TRUE(std::isfinite(v)) << "an output was not written";
    }
    EXPECT_EQ(current_device(), 1) << "after the Lstm was destroyed";
  }
  LSTMRT_TEST_CUDA(cudaSetDevice(0));
}

}  // namespace
}  // namespace lstmrt
