// Plain descriptions of a BPE tokenizer in the terms of the Hugging Face
// `tokenizers` library: the model (vocabulary and merges), added tokens and
// the normalizer, pre-tokenizer and decoder steps. A tokenizer.json parser
// fills them, and a GGUF reader can fill them from `tokenizer.ggml.*` keys,
// so both sources build the same BpeTokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace optiq {

// A token matched in the raw text before normalization and pre-tokenization
// and never split by BPE. Mirrors one entry of tokenizer.json "added_tokens".
struct AddedToken {
  int32_t id = -1;
  std::string content;
  // Special tokens (BOS, EOS, chat control tokens) produce no text in
  // decode().
  bool special = false;
  // Whether the match also consumes the whitespace to its left / right.
  bool lstrip = false;
  bool rstrip = false;
  // Whether the match is ignored when a word character touches either side.
  bool single_word = false;
  // Hugging Face matches normalized=true tokens on normalized text. optiq
  // matches every added token on the raw text (see BpeTokenizer).
  bool normalized = false;
};

// How a Split pre-tokenizer treats the matched delimiters, as in Hugging
// Face's SplitDelimiterBehavior.
enum class SplitBehavior {
  kRemoved,             // drop matches, keep the text between them
  kIsolated,            // every match and every gap is its own piece
  kMergedWithPrevious,  // a match joins the piece before it
  kMergedWithNext,      // a match joins the piece after it
  kContiguous,          // adjacent matches (or gaps) form one piece
};

// When the Metaspace pre-tokenizer prepends its replacement character.
enum class PrependScheme { kAlways, kFirst, kNever };

struct NormalizerStep {
  enum class Kind {
    kNfc,      // Unicode canonical composition
    kPrepend,  // prepend `content` to every non-empty segment
    kReplace,  // replace each match of `pattern` with `content`
  };
  Kind kind = Kind::kNfc;
  std::string pattern;
  bool pattern_is_regex = false;  // otherwise `pattern` is a literal string
  std::string content;
};

struct PreTokenizerStep {
  enum class Kind {
    // Splits each piece on the matches of `pattern` by `behavior`; `invert`
    // swaps the roles of matches and gaps.
    kSplit,
    // Optionally prepends a space and splits with the GPT-2 pattern, then
    // maps every byte to its printable stand-in character (see
    // hf_byte_level.h).
    kByteLevel,
    // Replaces ' ' with `replacement`, prepends it by `prepend_scheme` and,
    // with `split`, starts a new piece at each `replacement`.
    kMetaspace,
    // Separates runs of digits (or, with `individual_digits`, each digit).
    kDigits,
  };
  Kind kind = Kind::kSplit;
  // kSplit
  std::string pattern;
  bool pattern_is_regex = true;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  // kByteLevel
  bool add_prefix_space = false;
  bool use_regex = true;
  // kMetaspace
  std::string replacement = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK
  PrependScheme prepend_scheme = PrependScheme::kAlways;
  bool split = true;
  // kDigits
  bool individual_digits = false;
};

struct DecoderStep {
  enum class Kind {
    kByteLevel,     // map stand-in characters back to bytes, join tokens
    kReplace,       // replace literal `pattern` with `content` in each token
    kByteFallback,  // turn runs of <0xXX> tokens into their bytes
    kFuse,          // join all tokens into one
    kStrip,         // drop up to `start` / `stop` `content` chars per token
    kMetaspace,     // `replacement` -> ' ', dropped in the first token
  };
  Kind kind = Kind::kByteLevel;
  std::string pattern;
  std::string content;
  int32_t start = 0;
  int32_t stop = 0;
  std::string replacement = "\xE2\x96\x81";
  PrependScheme prepend_scheme = PrependScheme::kAlways;
};

// The BPE model of tokenizer.json ("model": {"type": "BPE", ...}).
struct BpeModelSpec {
  // Token text by id. An id with no token (a gap in a sparse tokenizer.json
  // vocabulary) has the empty string.
  std::vector<std::string> vocab;
  // Merge rules by rank, highest priority first: the pair (left, right)
  // merges into the token left + right.
  std::vector<std::pair<std::string, std::string>> merges;
  std::string unk_token;  // empty when the model has none
  bool fuse_unk = false;
  // Characters missing from the vocabulary become one <0xXX> token per byte.
  bool byte_fallback = false;
  // A pre-token that is itself in the vocabulary maps to that id directly.
  bool ignore_merges = false;
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
};

struct BpeTokenizerSpec {
  BpeModelSpec model;
  std::vector<AddedToken> added_tokens;
  std::vector<NormalizerStep> normalizers;
  std::vector<PreTokenizerStep> pre_tokenizers;
  // Empty: decode() joins the token texts with spaces, as Hugging Face does
  // without a decoder.
  std::vector<DecoderStep> decoders;
};

// Pre-tokenizer patterns of well-known byte-level BPE vocabularies, as in
// their tokenizer.json files.
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
inline constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Steps of a byte-level BPE that first splits with `pattern` (Isolated) and
// then applies ByteLevel without prefix space or its own regex: the
// pre-tokenizer of Llama 3 (kLlama3Pattern) and Qwen2/3 (kQwen2Pattern).
std::vector<PreTokenizerStep> split_then_byte_level(const std::string& pattern);

// Steps of GPT-2: ByteLevel with its built-in pattern and no prefix space.
std::vector<PreTokenizerStep> gpt2_byte_level();

}  // namespace optiq
