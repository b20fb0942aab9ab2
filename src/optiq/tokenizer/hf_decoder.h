// Decoder steps of a Hugging Face tokenizer: turn the texts of the decoded
// tokens back into the text they came from.
#pragma once

#include <string>
#include <vector>

#include "optiq/tokenizer/hf_spec.h"

namespace optiq {

// Applies `steps` in order to the token texts and concatenates the result.
// With no steps the tokens are joined with single spaces, as Hugging Face
// does. Byte sequences that are not valid UTF-8 are returned as raw bytes,
// where Hugging Face writes U+FFFD. A character split across two decode()
// calls then comes out whole when the caller concatenates the results.
std::string run_decoders(const std::vector<DecoderStep>& steps,
                         std::vector<std::string> tokens);

}  // namespace optiq
