// Host analysis and packing of per-step masks (see request_mask.hpp).
#include "request_mask.hpp"

#include "common/check.hpp"

namespace lstmrt {

MaskRow mask_row(const std::uint8_t* mask, int seq_len, int row) {
  MaskRow r;
  const std::uint8_t* m = mask + static_cast<std::size_t>(row) * seq_len;
  for (int t = 0; t < seq_len; ++t) {
    if (!m[t]) continue;
    if (r.first < 0) r.first = t;
    r.last = t;
    ++r.count;
  }
  return r;
}

MaskAnalysis analyse_mask(const std::uint8_t* mask, int seq_len, int batch, std::int32_t* counts) {
  MaskAnalysis a;
  for (int b = 0; b < batch; ++b) {
    const MaskRow r = mask_row(mask, seq_len, b);
    if (counts) counts[b] = r.count;
    const bool contiguous = r.count == 0 || r.last - r.first + 1 == r.count;
    if (!contiguous && a.gap_row < 0) a.gap_row = b;
    if (!(contiguous && (r.count == 0 || r.first == 0)) && a.not_prefix_row < 0) a.not_prefix_row = b;
    if (!(contiguous && (r.count == 0 || r.last == seq_len - 1)) && a.not_suffix_row < 0) a.not_suffix_row = b;
  }
  a.pattern = a.not_prefix_row < 0   ? MaskPattern::kPrefix
              : a.not_suffix_row < 0 ? MaskPattern::kSuffix
                                     : MaskPattern::kGeneral;
  return a;
}

std::string describe_general_mask(const MaskAnalysis& a) {
  if (a.gap_row >= 0) return fmt::format("mask row {} has a masked step between valid ones", a.gap_row);
  // Every row is contiguous: one pads at the front (not a prefix), another at the back (not a suffix).
  return fmt::format("mask row {} is padded at the front and row {} at the back", a.not_prefix_row, a.not_suffix_row);
}

int mask_word_count(int seq_len) { return (seq_len + 31) / 32; }

std::size_t packed_mask_words(int seq_len, int batch) {
  return static_cast<std::size_t>(batch) * (static_cast<std::size_t>(mask_word_count(seq_len)) + 2);
}

void pack_mask(const std::uint8_t* mask, int seq_len, int batch, std::int32_t* out) {
  if (!mask || !out || seq_len < 1 || batch < 1)
    detail::fail(ErrorCode::kInternal, "pack_mask: T={} N={} mask={} out={}", seq_len, batch, mask ? "set" : "null",
                 out ? "set" : "null");
  const int W = mask_word_count(seq_len);
  std::int32_t* first = out + static_cast<std::size_t>(batch) * W;
  std::int32_t* last = first + batch;
  for (int b = 0; b < batch; ++b) {
    const std::uint8_t* m = mask + static_cast<std::size_t>(b) * seq_len;
    std::int32_t* words = out + static_cast<std::size_t>(b) * W;
    first[b] = last[b] = -1;
    for (int w = 0; w < W; ++w) {
      std::uint32_t bits = 0;
      for (int k = 0; k < 32 && w * 32 + k < seq_len; ++k)
        if (m[w * 32 + k]) bits |= std::uint32_t{1} << k;
      words[w] = static_cast<std::int32_t>(bits);
    }
    for (int t = 0; t < seq_len; ++t) {
      if (!m[t]) continue;
      if (first[b] < 0) first[b] = t;
      last[b] = t;
    }
  }
}

}  // namespace lstmrt
