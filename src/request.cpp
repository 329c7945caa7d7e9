// Validation of a forward request against a model description.
#include "common/check.hpp"
#include "lstmrt/lstm.hpp"

namespace lstmrt {

void validate(const ModelDesc& desc, const ForwardRequest& req) {
  if (req.seq_len < 1) detail::invalid("seq_len is {}: expected >= 1", req.seq_len);
  if (req.batch < 1) detail::invalid("batch is {}: expected >= 1", req.batch);
  if (req.layout != TensorLayout::kTimeMajor && req.layout != TensorLayout::kBatchMajor)
    detail::invalid("layout is {}: expected time-major or batch-major", static_cast<int>(req.layout));
  if (!req.x)
    detail::invalid("x is null: expected the input ({} × {} × input_size {})", req.seq_len, req.batch, desc.input_size);
  if (!req.y && !req.h_n && !req.c_n)
    detail::invalid("no output requested: expected y (return_sequences) and/or h_n, c_n (return_state)");
  if ((req.h0 == nullptr) != (req.c0 == nullptr))
    detail::invalid("{} is given without {}: expected both initial states or neither", req.h0 ? "h0" : "c0",
                    req.h0 ? "c0" : "h0");
  if (req.lengths) {
    for (int b = 0; b < req.batch; ++b) {
      if (req.lengths[b] < 0 || req.lengths[b] > req.seq_len)
        detail::invalid("lengths[{}] is {}: expected 0..seq_len {}", b, req.lengths[b], req.seq_len);
    }
  }
  if (req.lengths && req.mask)
    detail::invalid("lengths and mask are both given: expected one (a right-padded mask is lengths)");
  if (req.padding != PaddingMode::kZero && req.padding != PaddingMode::kCarryLast)
    detail::invalid("padding is {}: expected zero or carry_last", static_cast<int>(req.padding));
  if (req.reverse_order == ReverseOutputOrder::kProcessing && desc.direction != Direction::kReverse)
    detail::invalid("reverse_order is processing (Keras go_backwards) but direction is {}: expected reverse",
                    to_string(desc.direction));
  // Outputs may not alias inputs: a backend reads x/h0/c0 after it has begun writing outputs.
  const void* inputs[] = {req.x, req.h0, req.c0};
  const void* outputs[] = {req.y, req.h_n, req.c_n};
  const char* output_names[] = {"y", "h_n", "c_n"};
  for (int o = 0; o < 3; ++o) {
    if (!outputs[o]) continue;
    for (const void* in : inputs) {
      if (in == outputs[o]) detail::invalid("{} aliases an input: expected separate output memory", output_names[o]);
    }
    for (int p = 0; p < o; ++p) {
      if (outputs[p] == outputs[o])
        detail::invalid("{} and {} are the same buffer: expected separate outputs", output_names[p], output_names[o]);
    }
  }
}

}  // namespace lstmrt
