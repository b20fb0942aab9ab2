// Calibration sequences cut from a text.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "optiq/tokenizer/tokenizer.h"

namespace optiq {

struct CalibrationSet {
  std::vector<std::vector<int32_t>> sequences;  // each seq_len tokens, BOS first when used
  int64_t requested_samples = 0;
  int64_t seq_len = 0;
  int64_t text_tokens = 0;  // tokens in the whole text
  int64_t tokens() const { return static_cast<int64_t>(sequences.size()) * seq_len; }
};

// Tokenizes `text` (BOS first when the model uses BOS) and cuts it into
// non-overlapping windows of seq_len tokens; when the text holds more than
// `samples` windows, takes `samples` of them spread evenly over the text.
// Each window starts with BOS when the model uses BOS. Fewer windows than
// requested is allowed (the caller reports it); none is an error.
CalibrationSet make_calibration_set(const Tokenizer& tokenizer, std::string_view text,
                                    int64_t samples, int64_t seq_len);

}  // namespace optiq
