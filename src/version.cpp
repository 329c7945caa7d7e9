#include "lstmrt/version.hpp"

namespace lstmrt {
const char* version() noexcept { return LSTMRT_VERSION_STRING; }
}  // namespace lstmrt
