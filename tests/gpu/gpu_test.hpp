// Fixture for GPU tests: every test skips (reported SKIPPED, never passed) when this machine has no
// usable GPU, naming the reason; otherwise device 0 is current and the test owns a stream.
#pragma once

#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <string>

#include "lstmrt/lstm.hpp"
#include "system_probe.hpp"

// For test code only: a failing CUDA call fails the test with the call and error named.
#define LSTMRT_TEST_CUDA(call)                                                                                    \
  do {                                                                                                            \
    const cudaError_t lstmrt_test_status_ = (call);                                                               \
    ASSERT_EQ(lstmrt_test_status_, cudaSuccess) << #call << ": " << cudaGetErrorName(lstmrt_test_status_) << " (" \
                                                << cudaGetErrorString(lstmrt_test_status_) << ")";                \
  } while (0)

namespace lstmrt::test {

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!lstmrt::gpu_available()) GTEST_SKIP() << "no usable GPU: " << lstmrt::probe_gpus().status;
    LSTMRT_TEST_CUDA(cudaSetDevice(0));
    LSTMRT_TEST_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  void TearDown() override {
    if (stream_) {
      EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess) << "work left on the test stream failed";
      EXPECT_EQ(cudaStreamDestroy(stream_), cudaSuccess);
      stream_ = nullptr;
    }
  }
  cudaStream_t stream() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// Owns one device allocation of `count` T for a test; freed at scope end.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t count) : count_(count) {
    if (count_ && cudaMalloc(reinterpret_cast<void**>(&ptr_), count_ * sizeof(T)) != cudaSuccess) ptr_ = nullptr;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (ptr_) cudaFree(ptr_);
  }
  T* get() const { return ptr_; }
  bool ok() const { return count_ == 0 || ptr_ != nullptr; }
  std::size_t count() const { return count_; }
  std::size_t bytes() const { return count_ * sizeof(T); }

 private:
  T* ptr_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace lstmrt::test
