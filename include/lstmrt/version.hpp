#pragma once

namespace lstmrt {
const char* version() noexcept;  // "MAJOR.MINOR.PATCH"
}  // namespace lstmrt
