// Finds added tokens in raw text, the first step of Hugging Face encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "optiq/tokenizer/hf_spec.h"

namespace optiq {

class AddedTokenMatcher {
 public:
  // A piece of the input: an added token (id >= 0) or text to normalize,
  // pre-tokenize and run through BPE (id == -1). [start, end) are byte
  // offsets; a token's range includes whitespace taken by lstrip/rstrip.
  struct Segment {
    size_t start;
    size_t end;
    int32_t id;
  };

  explicit AddedTokenMatcher(const std::vector<AddedToken>& tokens);

  // Splits `text` into segments that cover it in order (empty text
  // segments are left out). Matches are leftmost-longest and do not overlap.
  // A single_word token with a word character (\w) on either side is not
  // matched. lstrip and rstrip extend a match over adjacent whitespace (\s).
  // These rules follow Hugging Face's AddedVocabulary.
  std::vector<Segment> split(std::string_view text) const;

 private:
  struct Node {
    // Children sorted by byte; added-token sets are small.
    std::vector<std::pair<uint8_t, int32_t>> children;
    int32_t token = -1;  // index into tokens_ of the token ending here
  };

  int32_t child(int32_t node, uint8_t byte) const;
  // Index into tokens_ of the longest token starting at text[pos], or -1;
  // stores its length in `length`.
  int32_t longest_match(std::string_view text, size_t pos,
                        size_t& length) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  bool first_byte_[256] = {};
};

}  // namespace optiq
