// Internal: move-only owners of cuDNN handles and descriptors, so each is destroyed exactly once
// (moved-from owners hold null and destroy nothing).
#pragma once

#include <cudnn.h>

#include <utility>

#include "cudnn/cudnn_check.hpp"

namespace lstmrt::cudnn {

// Owns one T created by Create and destroyed by Destroy.
template <typename T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Owned {
 public:
  Owned() = default;
  static Owned create() {
    Owned owned;
    const cudnnStatus_t status = Create(&owned.value_);
    if (status != CUDNN_STATUS_SUCCESS) {
      owned.value_ = nullptr;
      detail::fail(ErrorCode::kCudaError, "creating a cuDNN object failed: {}", detail::cudnn_status_text(status));
    }
    return owned;
  }
  Owned(Owned&& other) noexcept : value_(std::exchange(other.value_, nullptr)) {}
  Owned& operator=(Owned&& other) noexcept {
    if (this != &other) {
      reset();
      value_ = std::exchange(other.value_, nullptr);
    }
    return *this;
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() { reset(); }

  T get() const { return value_; }
  explicit operator bool() const { return value_ != nullptr; }

 private:
  void reset() noexcept {
    if (value_) Destroy(value_);  // a destructor cannot throw; nothing more leaks on failure
    value_ = nullptr;
  }
  T value_ = nullptr;
};

using Handle = Owned<cudnnHandle_t, cudnnCreate, cudnnDestroy>;
using DropoutDesc = Owned<cudnnDropoutDescriptor_t, cudnnCreateDropoutDescriptor, cudnnDestroyDropoutDescriptor>;
using RnnDesc = Owned<cudnnRNNDescriptor_t, cudnnCreateRNNDescriptor, cudnnDestroyRNNDescriptor>;
using RnnDataDesc = Owned<cudnnRNNDataDescriptor_t, cudnnCreateRNNDataDescriptor, cudnnDestroyRNNDataDescriptor>;
using TensorDesc = Owned<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;

}  // namespace lstmrt::cudnn
