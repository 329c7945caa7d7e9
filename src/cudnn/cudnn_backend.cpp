// Placeholder until the cudnn backend lands (its issue replaces this file).
#include "backend.hpp"
#include "common/check.hpp"

namespace lstmrt {

std::unique_ptr<Backend> make_cudnn_backend(const ModelDesc&, const Weights&, const BackendOptions&) {
  detail::unsupported("backend cudnn is not built into lstmrt {} yet: use reference or auto", LSTMRT_VERSION_STRING);
}

}  // namespace lstmrt
