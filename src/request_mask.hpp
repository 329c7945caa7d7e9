// Internal: host analysis of a request's per-step mask (ForwardRequest::mask, HOST (N, T) bytes,
// nonzero = valid), shared by the backends: each row's valid span, whether the whole mask is a
// right-padded prefix (lengths) or a left-padded suffix (lengths after a shift), and the packed
// form the fused kernels read on the device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lstmrt {

// How the valid steps of every row lie.
enum class MaskPattern {
  kPrefix,   // each row's valid steps are t < count (right padding): exactly `lengths`
  kSuffix,   // each row's valid steps are t >= T − count (left padding, Keras pad_sequences' default)
  kGeneral,  // some row has a masked step between two valid ones, or rows pad on different sides
};

struct MaskRow {
  int first = -1;  // first valid input time, −1 when the row has none
  int last = -1;   // last valid input time, −1 when none
  int count = 0;   // valid steps
};

MaskRow mask_row(const std::uint8_t* mask, int seq_len, int row);

// The pattern every row fits (a row with 0 or T valid steps fits both prefix and suffix; a mask
// of such rows only is kPrefix), and for naming a kGeneral mask the first row with a masked step
// between valid ones and the first rows that are not a prefix / not a suffix (−1: none).
// `counts` (N entries, or null) receives each row's number of valid steps. No allocation.
struct MaskAnalysis {
  MaskPattern pattern = MaskPattern::kPrefix;
  int gap_row = -1, not_prefix_row = -1, not_suffix_row = -1;
};
MaskAnalysis analyse_mask(const std::uint8_t* mask, int seq_len, int batch, std::int32_t* counts);
// One line naming why a kGeneral mask is neither kind, e.g. "row 2 has a masked step between
// valid ones" or "row 0 is padded at the front and row 3 at the back".
std::string describe_general_mask(const MaskAnalysis& a);

// The fused gate kernel's device form (kernels/fused_step_math.cuh GateStepParams), one int32
// array of packed_mask_words(T, N) words:
//   [0, N·W)            bits: row b's step t at word b·W + t/32, bit t%32 (W = mask_word_count(T))
//   [N·W, N·W + N)      each row's first valid time (−1: none)
//   [N·W + N, N·W + 2N) each row's last valid time (−1: none)
int mask_word_count(int seq_len);
std::size_t packed_mask_words(int seq_len, int batch);
// Writes packed_mask_words(seq_len, batch) words to `out` (no allocation).
void pack_mask(const std::uint8_t* mask, int seq_len, int batch, std::int32_t* out);

}  // namespace lstmrt
