// Test helper: random per-step masks (ForwardRequest::mask, (N, T) bytes) of the patterns the
// backends treat differently.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace lstmrt::test {

// Mask patterns for tests: right-padded (as lengths), left-padded (Keras pad_sequences), and any.
enum class MaskKind { kPrefix, kSuffix, kRandom };

// A random (N, T) mask of `kind`; rows with no valid step and rows with all steps valid are drawn too.
inline std::vector<std::uint8_t> random_mask(int T, int N, std::mt19937_64& rng, MaskKind kind) {
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(T) * N, 0);
  std::uniform_int_distribution<int> count(0, T), bit(0, 2);
  for (int b = 0; b < N; ++b) {
    const int len = count(rng);
    for (int t = 0; t < T; ++t) {
      std::uint8_t& m = mask[static_cast<std::size_t>(b) * T + t];
      if (kind == MaskKind::kPrefix)
        m = t < len;
      else if (kind == MaskKind::kSuffix)
        m = t >= T - len;
      else
        m = bit(rng) != 0 ? static_cast<std::uint8_t>(1 + bit(rng)) : 0;  // any nonzero byte is valid
    }
  }
  return mask;
}

}  // namespace lstmrt::test
