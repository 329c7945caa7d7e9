#include "import/import_dispatch.hpp"

#include "import/file_bytes.hpp"
#include "lstmrt/import.hpp"

namespace lstmrt::import_detail {

std::optional<LoadedWeights> load_imported_weights(const std::string& path) {
  const std::string ext = file_extension(path);
  // A state_dict in safetensors is PyTorch naming: the .npz scheme detection converts it.
  if (ext == "safetensors") return weights_from_arrays(load_safetensors(path), path);
  return std::nullopt;
}

}  // namespace lstmrt::import_detail
