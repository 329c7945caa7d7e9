// Host arithmetic of upload_lengths: how `count` rows split into launches (CPU-tested).
#include "common/check.hpp"
#include "kernels/upload_lengths.hpp"

namespace lstmrt::kernels {

int length_chunk_count(int count) {
  if (count < 0) detail::invalid("upload_lengths: count is {}: expected >= 0", count);
  return count / kLengthsPerLaunch + (count % kLengthsPerLaunch != 0 ? 1 : 0);
}

LengthChunk length_chunk(int count, int index) {
  const int chunks = length_chunk_count(count);
  if (index < 0 || index >= chunks)
    detail::invalid("upload_lengths: chunk index {} out of range: expected 0..{} for {} rows", index, chunks - 1,
                    count);
  const int offset = index * kLengthsPerLaunch;
  const int rest = count - offset;
  return {offset, rest < kLengthsPerLaunch ? rest : kLengthsPerLaunch};
}

}  // namespace lstmrt::kernels
