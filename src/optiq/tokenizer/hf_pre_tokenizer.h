// Normalizer and pre-tokenizer steps of a Hugging Face tokenizer, compiled
// once (regexes included) and applied to one text segment at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "optiq/tokenizer/hf_regex.h"
#include "optiq/tokenizer/hf_spec.h"

namespace optiq {

class Normalizer {
 public:
  // Throws optiq::Error naming `source` for an invalid regex.
  Normalizer(const std::vector<NormalizerStep>& steps, std::string_view source);

  // Applies the steps in order to one segment of the input (the text between
  // two added tokens).
  std::string normalize(std::string_view text) const;

 private:
  struct Step {
    NormalizerStep spec;
    std::unique_ptr<Regex> regex;  // for a kReplace with a regex pattern
  };
  std::vector<Step> steps_;
};

class PreTokenizer {
 public:
  // Throws optiq::Error naming `source` for an invalid regex or an empty
  // Metaspace replacement.
  PreTokenizer(const std::vector<PreTokenizerStep>& steps,
               std::string_view source);

  // Appends the pre-tokens of the normalized segment `text` to `out`, in
  // order. Empty pre-tokens are dropped. `at_input_start` is true when the
  // segment starts the whole input (for Metaspace's "first" prepend scheme).
  void pre_tokenize(std::string_view text, bool at_input_start,
                    std::vector<std::string>& out) const;

 private:
  struct Piece {
    std::string text;
    bool at_input_start;
  };
  struct Step {
    PreTokenizerStep spec;
    std::unique_ptr<Regex> regex;  // kSplit pattern or ByteLevel's GPT-2 one
  };

  void apply(const Step& step, Piece piece, std::vector<Piece>& out) const;
  std::vector<Step> steps_;
};

// Splits `text` on the matches of `regex` (or of the literal `literal` when
// `regex` is null) by `behavior`, appending the non-empty pieces as
// [start, end) byte ranges to `ranges`.
void split_by_behavior(std::string_view text, const Regex* regex,
                       std::string_view literal, SplitBehavior behavior,
                       bool invert,
                       std::vector<std::pair<size_t, size_t>>& ranges);

}  // namespace optiq
