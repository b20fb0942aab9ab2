#include "optiq/profile/calibration.h"

#include "optiq/core/error.h"

namespace optiq {

CalibrationSet make_calibration_set(const Tokenizer& tokenizer, std::string_view text,
                                    int64_t samples, int64_t seq_len) {
  if (samples <= 0) fail("invalid number of calibration samples {}", samples);
  if (seq_len < 2) fail("invalid calibration sequence length {}", seq_len);
  CalibrationSet set;
  set.requested_samples = samples;
  set.seq_len = seq_len;
  std::vector<int32_t> tokens = tokenizer.encode_for_model(text, /*with_bos=*/true);
  set.text_tokens = static_cast<int64_t>(tokens.size());
  const int64_t windows = set.text_tokens / seq_len;
  if (windows == 0) {
    fail("calibration text has {} tokens, fewer than one sequence of {}", set.text_tokens, seq_len);
  }
  const int64_t count = std::min(samples, windows);
  const bool use_bos = tokenizer.add_bos() && tokenizer.bos_id() >= 0;
  for (int64_t i = 0; i < count; ++i) {
    // Integer spreading: window indices floor(i * windows / count).
    const int64_t window = i * windows / count;
    std::vector<int32_t> sequence(tokens.begin() + window * seq_len,
                                  tokens.begin() + (window + 1) * seq_len);
    if (use_bos) sequence[0] = tokenizer.bos_id();
    set.sequences.push_back(std::move(sequence));
  }
  return set;
}

}  // namespace optiq
