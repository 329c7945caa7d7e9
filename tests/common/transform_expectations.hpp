// What the cudnn backend's transform kernels (kernels/cudnn_transforms.hpp) must write, computed on
// the host from the same index maps, and a byte comparison that names the first difference. Used
// by the GPU suite (tests/gpu/test_cudnn_transforms.cpp) and the SIMT suite
// (tests/simt/test_simt_kernels.cpp), which run the same kernels on a device and on the CPU.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cudnn_shift.hpp"
#include "kernels/cudnn_transforms.hpp"

namespace lstmrt::test {

// Random payload bytes, never 0xFF (the poison).
inline std::vector<unsigned char> random_payload(std::mt19937_64& rng, std::size_t n) {
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = static_cast<unsigned char>(rng() & 0x7F);
  return v;
}
// N lengths in [0, T] (allow_zero) or [1, T].
inline std::vector<std::int32_t> random_lengths(std::mt19937_64& rng, int N, int T, bool allow_zero) {
  std::vector<std::int32_t> v(N);
  for (auto& l : v) l = static_cast<std::int32_t>(allow_zero ? rng() % (T + 1) : 1 + rng() % T);
  return v;
}

// dst of reverse_rows for `src` with the shape of `p` (its pointers are not used).
inline std::vector<unsigned char> expected_reverse_rows(const kernels::ReverseRowsParams& p,
                                                        const std::vector<unsigned char>& src,
                                                        const std::vector<std::int32_t>& lengths) {
  const std::size_t row = static_cast<std::size_t>(p.width) * p.element_bytes;
  std::vector<unsigned char> dst(src.size());
  for (int s = 0; s < p.steps; ++s)
    for (int b = 0; b < p.rows; ++b)
      std::memcpy(&dst[kernels::sequence_vector(s, b, p.steps, p.rows, p.batch_major) * row],
                  &src[kernels::sequence_vector(kernels::reversed_input_step(s, lengths[b]), b, p.steps, p.rows,
                                                p.batch_major) *
                       row],
                  row);
  return dst;
}

// dst of finish_outputs for `src` with the shape and flags of `p`.
inline std::vector<unsigned char> expected_finish_outputs(const kernels::FinishOutputsParams& p,
                                                          const std::vector<unsigned char>& src,
                                                          const std::vector<std::int32_t>& lengths) {
  const std::size_t slot = static_cast<std::size_t>(p.width) * p.element_bytes, vec = slot * p.directions;
  std::vector<unsigned char> dst(src.size(), 0);
  for (int t = 0; t < p.steps; ++t)
    for (int b = 0; b < p.rows; ++b)
      for (int d = 0; d < p.directions; ++d) {
        const int s = kernels::output_source_step(t, lengths[b], p.steps, p.reversed_run, p.processing,
                                                  p.carry_last && !p.slot_reverse[d]);
        if (s < 0) continue;  // zeros
        std::memcpy(&dst[kernels::sequence_vector(t, b, p.steps, p.rows, p.batch_major) * vec + d * slot],
                    &src[kernels::sequence_vector(s, b, p.steps, p.rows, p.batch_major) * vec + d * slot], slot);
      }
  return dst;
}

// dst of shift_rows (left-padded rows' valid steps to the front) for `src` with the shape of `p`.
inline std::vector<unsigned char> expected_shift_rows(const kernels::ShiftRowsParams& p,
                                                      const std::vector<unsigned char>& src,
                                                      const std::vector<std::int32_t>& lengths) {
  const std::size_t row = static_cast<std::size_t>(p.width) * p.element_bytes;
  std::vector<unsigned char> dst(src.size());
  for (int s = 0; s < p.steps; ++s)
    for (int b = 0; b < p.rows; ++b)
      std::memcpy(&dst[kernels::sequence_vector(s, b, p.steps, p.rows, p.batch_major) * row],
                  &src[kernels::sequence_vector(kernels::shifted_input_step(s, lengths[b], p.steps, p.reversed_run), b,
                                                p.steps, p.rows, p.batch_major) *
                       row],
                  row);
  return dst;
}

// dst of finish_shifted_outputs for `src` with the shape and flags of `p`.
inline std::vector<unsigned char> expected_finish_shifted_outputs(const kernels::FinishOutputsParams& p,
                                                                  const std::vector<unsigned char>& src,
                                                                  const std::vector<std::int32_t>& lengths) {
  const std::size_t slot = static_cast<std::size_t>(p.width) * p.element_bytes, vec = slot * p.directions;
  std::vector<unsigned char> dst(src.size(), 0);
  for (int t = 0; t < p.steps; ++t)
    for (int b = 0; b < p.rows; ++b)
      for (int d = 0; d < p.directions; ++d) {
        const int s = kernels::shifted_output_source_step(t, lengths[b], p.steps, p.reversed_run, p.processing,
                                                          p.carry_last && p.slot_reverse[d]);
        if (s < 0) continue;  // zeros
        std::memcpy(&dst[kernels::sequence_vector(t, b, p.steps, p.rows, p.batch_major) * vec + d * slot],
                    &src[kernels::sequence_vector(s, b, p.steps, p.rows, p.batch_major) * vec + d * slot], slot);
      }
  return dst;
}

// h_n / c_n after restore_states: rows of length 0 take h0 / c0 (zeros without them), the rest keep
// `before`. `initial` is h0 or c0 (empty: none); `width` is H_out or H.
inline std::vector<unsigned char> expected_restore_states(const kernels::RestoreStatesParams& p, int width,
                                                          const std::vector<unsigned char>& before,
                                                          const std::vector<unsigned char>& initial,
                                                          const std::vector<std::int32_t>& lengths) {
  std::vector<unsigned char> out = before;
  const std::size_t row = static_cast<std::size_t>(width) * p.element_bytes;
  for (int slot = 0; slot < p.slots; ++slot)
    for (int b = 0; b < p.rows; ++b) {
      if (lengths[b] != 0) continue;
      const std::size_t at = (static_cast<std::size_t>(slot) * p.rows + b) * row;
      for (std::size_t k = 0; k < row; ++k) out[at + k] = initial.empty() ? 0 : initial[at + k];
    }
  return out;
}

// got[0, want.size()) == want, and got[want.size(), got.size()) still 0xFF (guard bytes).
inline ::testing::AssertionResult bytes_match(const std::vector<unsigned char>& want,
                                              const std::vector<unsigned char>& got, const std::string& what) {
  if (got.size() < want.size())
    return ::testing::AssertionFailure() << what << ": " << got.size() << " bytes, expected " << want.size();
  for (std::size_t i = 0; i < want.size(); ++i)
    if (got[i] != want[i])
      return ::testing::AssertionFailure()
             << what << ": byte " << i << " is " << int(got[i]) << ", expected " << int(want[i]);
  for (std::size_t i = want.size(); i < got.size(); ++i)
    if (got[i] != 0xFF) return ::testing::AssertionFailure() << what << ": wrote past the end at byte " << i;
  return ::testing::AssertionSuccess();
}

}  // namespace lstmrt::test
