#include "optiq/tokenizer/gguf_tokenizer.h"

#include <spdlog/spdlog.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "optiq/core/error.h"
#include "optiq/io/gguf_file.h"
#include "optiq/tokenizer/hf_bpe_tokenizer.h"
#include "optiq/tokenizer/hf_sentencepiece.h"
#include "optiq/tokenizer/hf_spec.h"

namespace optiq {
namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";
constexpr std::string_view kPreKey = "tokenizer.ggml.pre";
constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kTokenTypeKey = "tokenizer.ggml.token_type";
constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";
constexpr std::string_view kBosKey = "tokenizer.ggml.bos_token_id";
constexpr std::string_view kEosKey = "tokenizer.ggml.eos_token_id";
constexpr std::string_view kUnknownKey = "tokenizer.ggml.unknown_token_id";
constexpr std::string_view kAddBosKey = "tokenizer.ggml.add_bos_token";
constexpr std::string_view kAddSpacePrefixKey =
    "tokenizer.ggml.add_space_prefix";
constexpr std::string_view kRemoveExtraSpacesKey =
    "tokenizer.ggml.remove_extra_whitespaces";

// llama.cpp's regex list for a "gpt2" vocabulary without a known
// pre-tokenizer (LLAMA_VOCAB_PRE_TYPE_DEFAULT in src/llama-vocab.cpp). Each
// regex splits the pieces of the one before it, keeping matches and the
// text between them.
constexpr std::array<const char*, 4> kDefaultPatterns = {
    R"([\p{P}\$\+<=>\^~\|]+)",
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
    R"(\p{N}+)",
    R"([0-9][0-9][0-9])",
};

enum class PreFamily { kLlama3, kQwen2, kGpt2, kDigitsThenGpt2, kDefault };

struct PreTokenizerName {
  std::string_view name;
  PreFamily family;
  // llama.cpp sets ignore_merges and adds BOS by default for these names.
  bool llama3_defaults = false;
};

constexpr PreTokenizerName kPreTokenizers[] = {
    {"llama3", PreFamily::kLlama3, true},
    {"llama-v3", PreFamily::kLlama3, true},
    {"llama-bpe", PreFamily::kLlama3, true},
    {"falcon3", PreFamily::kLlama3, true},
    {"pixtral", PreFamily::kLlama3, true},
    {"dbrx", PreFamily::kLlama3},
    {"smaug-bpe", PreFamily::kLlama3},
    {"qwen2", PreFamily::kQwen2},
    {"deepseek-r1-qwen", PreFamily::kQwen2},
    {"megrez", PreFamily::kQwen2},
    {"stablelm2", PreFamily::kQwen2},
    {"gpt-2", PreFamily::kGpt2},
    {"phi-2", PreFamily::kGpt2},
    {"mpt", PreFamily::kGpt2},
    {"olmo", PreFamily::kGpt2},
    {"jais", PreFamily::kGpt2},
    {"starcoder", PreFamily::kDigitsThenGpt2},
    {"refact", PreFamily::kDigitsThenGpt2},
    {"command-r", PreFamily::kDigitsThenGpt2},
    {"smollm", PreFamily::kDigitsThenGpt2},
    {"codeshell", PreFamily::kDigitsThenGpt2},
    {"exaone", PreFamily::kDigitsThenGpt2},
    {"minerva-7b", PreFamily::kDigitsThenGpt2},
    {"default", PreFamily::kDefault},
};

std::string supported_pre_names() {
  std::string names;
  for (const PreTokenizerName& entry : kPreTokenizers) {
    if (!names.empty()) names += ", ";
    names += entry.name;
  }
  return names;
}

PreTokenizerStep byte_level_without_regex() {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kByteLevel;
  step.add_prefix_space = false;
  step.use_regex = false;
  return step;
}

std::vector<PreTokenizerStep> pre_tokenizer_steps(PreFamily family) {
  switch (family) {
    case PreFamily::kLlama3:
      return split_then_byte_level(kLlama3Pattern);
    case PreFamily::kQwen2:
      return split_then_byte_level(kQwen2Pattern);
    case PreFamily::kGpt2:
      return gpt2_byte_level();
    case PreFamily::kDigitsThenGpt2: {
      PreTokenizerStep digits;
      digits.kind = PreTokenizerStep::Kind::kDigits;
      digits.individual_digits = true;
      std::vector<PreTokenizerStep> steps = {digits};
      for (const PreTokenizerStep& step : gpt2_byte_level()) {
        steps.push_back(step);
      }
      return steps;
    }
    case PreFamily::kDefault: {
      // NOTE: llama.cpp runs these regexes with its own engine. No test
      // vectors for a "default" gpt2 vocabulary were available to compare.
      std::vector<PreTokenizerStep> steps;
      for (const char* pattern : kDefaultPatterns) {
        PreTokenizerStep split;
        split.kind = PreTokenizerStep::Kind::kSplit;
        split.pattern = pattern;
        split.pattern_is_regex = true;
        split.behavior = SplitBehavior::kIsolated;
        steps.push_back(split);
      }
      steps.push_back(byte_level_without_regex());
      return steps;
    }
  }
  OPTIQ_ASSERT(false);
  return {};
}

// Metadata of one GGUF file, with errors that name the file.
class GgufKeys {
 public:
  explicit GgufKeys(const GgufFile& gguf)
      : gguf_(gguf), file_(gguf.path().string()) {}

  const std::string& file() const { return file_; }
  bool has(std::string_view key) const { return gguf_.find(key) != nullptr; }

  template <typename Read>
  auto read(std::string_view key, Read read_value) const {
    const GgufValue* value = gguf_.find(key);
    if (value == nullptr) fail("{}: missing metadata key '{}'", file_, key);
    try {
      return read_value(*value);
    } catch (const Error& error) {
      fail("{}: {}", file_, error.what());
    }
  }

  std::string string(std::string_view key) const {
    return read(key, [](const GgufValue& v) { return v.as_string(); });
  }
  bool boolean(std::string_view key) const {
    return read(key, [](const GgufValue& v) { return v.as_bool(); });
  }
  int64_t integer(std::string_view key) const {
    return read(key, [](const GgufValue& v) { return v.as_int64(); });
  }
  std::vector<std::string> strings(std::string_view key) const {
    return read(key, [](const GgufValue& v) { return v.as_string_array(); });
  }
  std::vector<int64_t> integers(std::string_view key) const {
    return read(key, [](const GgufValue& v) { return v.as_int_array(); });
  }
  // llama.cpp accepts scores stored as f32 or as i32.
  std::vector<float> floats(std::string_view key) const {
    return read(key, [](const GgufValue& v) {
      if (v.is_array() && v.element_type() != GgufValueType::kFloat32 &&
          v.element_type() != GgufValueType::kFloat64) {
        const std::vector<int64_t> integers = v.as_int_array();
        return std::vector<float>(integers.begin(), integers.end());
      }
      return v.as_float_array();
    });
  }

  // Reads a token id key, or returns `fallback` when it is absent. A present
  // id must be inside the vocabulary.
  int32_t token_id(std::string_view key, int32_t fallback,
                   size_t vocab_size) const {
    if (!has(key)) return fallback;
    const int64_t id = integer(key);
    if (id < 0 || static_cast<uint64_t>(id) >= vocab_size) {
      fail("{}: key '{}' = {} is outside the vocabulary of {} tokens", file_,
           key, id, vocab_size);
    }
    return static_cast<int32_t>(id);
  }

  // An array key indexed by token id must have one entry per token.
  void check_length(std::string_view key, size_t length,
                    size_t vocab_size) const {
    if (length != vocab_size) {
      fail("{}: key '{}' has {} entries but '{}' has {} tokens", file_, key,
           length, kTokensKey, vocab_size);
    }
  }

 private:
  const GgufFile& gguf_;
  std::string file_;
};

// Reads the merges, stored as "left right". The split is at the first space
// after the first byte, as llama.cpp splits them.
std::vector<std::pair<std::string, std::string>> read_merges(
    const GgufKeys& keys) {
  const std::vector<std::string> lines = keys.strings(kMergesKey);
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const size_t space = line.find(' ', 1);
    if (space == std::string::npos || space + 1 == line.size()) {
      fail("{}: key '{}' entry {} is \"{}\", expected two tokens and a space",
           keys.file(), kMergesKey, i, line);
    }
    merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  return merges;
}

// Control and unknown tokens become special added tokens, user-defined ones
// plain added tokens.
void add_typed_tokens(const std::vector<int64_t>& types,
                      BpeTokenizerSpec& spec) {
  for (size_t id = 0; id < types.size(); ++id) {
    const auto type = static_cast<GgufTokenType>(types[id]);
    const bool special =
        type == GgufTokenType::kControl || type == GgufTokenType::kUnknown;
    if (!special && type != GgufTokenType::kUserDefined) continue;
    if (spec.model.vocab[id].empty()) continue;
    AddedToken token;
    token.id = static_cast<int32_t>(id);
    token.content = spec.model.vocab[id];
    token.special = special;
    spec.added_tokens.push_back(std::move(token));
  }
}

// Removes the dummy-prefix steps that use_sentencepiece_steps() sets: the
// Prepend("▁") normalizer and the Strip decoder that drops it again.
void drop_space_prefix(BpeTokenizerSpec& spec) {
  std::erase_if(spec.normalizers, [](const NormalizerStep& step) {
    return step.kind == NormalizerStep::Kind::kPrepend;
  });
  std::erase_if(spec.decoders, [](const DecoderStep& step) {
    return step.kind == DecoderStep::Kind::kStrip;
  });
}

struct BosDefaults {
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  bool add_bos = false;
};

BosDefaults build_gpt2_spec(const GgufKeys& keys, BpeTokenizerSpec& spec) {
  spec.model.merges = read_merges(keys);
  PreFamily family = PreFamily::kDefault;
  bool llama3_defaults = false;
  if (keys.has(kPreKey)) {
    const std::string pre = keys.string(kPreKey);
    const PreTokenizerName* found = nullptr;
    for (const PreTokenizerName& entry : kPreTokenizers) {
      if (entry.name == pre) found = &entry;
    }
    if (found == nullptr) {
      fail("{}: unsupported {} '{}' (supported: {})", keys.file(), kPreKey, pre,
           supported_pre_names());
    }
    family = found->family;
    llama3_defaults = found->llama3_defaults;
  } else {
    spdlog::warn(
        "{}: no '{}' key, so llama.cpp's default pre-tokenizer is used",
        keys.file(), kPreKey);
  }
  spec.pre_tokenizers = pre_tokenizer_steps(family);
  spec.model.ignore_merges = llama3_defaults;
  DecoderStep byte_level;
  byte_level.kind = DecoderStep::Kind::kByteLevel;
  spec.decoders = {byte_level};
  return BosDefaults{-1, -1, llama3_defaults};
}

BosDefaults build_llama_spec(const GgufKeys& keys,
                             const std::vector<int64_t>& types,
                             BpeTokenizerSpec& spec) {
  const size_t vocab_size = spec.model.vocab.size();
  const std::vector<float> scores = keys.floats(kScoresKey);
  keys.check_length(kScoresKey, scores.size(), vocab_size);
  std::vector<bool> mergeable(vocab_size, true);
  for (size_t id = 0; id < types.size(); ++id) {
    mergeable[id] =
        static_cast<GgufTokenType>(types[id]) == GgufTokenType::kNormal;
  }
  spec.model.merges = merges_from_scores(spec.model.vocab, scores, mergeable);

  int32_t unknown_id = keys.token_id(kUnknownKey, -1, vocab_size);
  for (size_t id = 0; id < types.size() && unknown_id < 0; ++id) {
    if (static_cast<GgufTokenType>(types[id]) == GgufTokenType::kUnknown) {
      unknown_id = static_cast<int32_t>(id);
    }
  }
  if (unknown_id >= 0) spec.model.unk_token = spec.model.vocab[unknown_id];

  use_sentencepiece_steps(spec);
  if (keys.has(kAddSpacePrefixKey) && !keys.boolean(kAddSpacePrefixKey)) {
    drop_space_prefix(spec);
  }
  if (keys.has(kRemoveExtraSpacesKey) && keys.boolean(kRemoveExtraSpacesKey)) {
    fail("{}: unsupported {} = true (only false is supported)", keys.file(),
         kRemoveExtraSpacesKey);
  }
  // llama.cpp's defaults for a SentencePiece vocabulary: BOS 1, EOS 2.
  BosDefaults defaults;
  defaults.bos_id = vocab_size > 1 ? 1 : -1;
  defaults.eos_id = vocab_size > 2 ? 2 : -1;
  defaults.add_bos = true;
  return defaults;
}

}  // namespace

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GgufFile& gguf) {
  const GgufKeys keys(gguf);
  const std::string model = keys.string(kModelKey);

  BpeTokenizerSpec spec;
  spec.model.vocab = keys.strings(kTokensKey);
  const size_t vocab_size = spec.model.vocab.size();
  if (vocab_size == 0) fail("{}: key '{}' is empty", keys.file(), kTokensKey);
  std::vector<int64_t> types;
  if (keys.has(kTokenTypeKey)) {
    types = keys.integers(kTokenTypeKey);
    keys.check_length(kTokenTypeKey, types.size(), vocab_size);
  }

  BosDefaults defaults;
  if (model == "gpt2") {
    defaults = build_gpt2_spec(keys, spec);
  } else if (model == "llama") {
    defaults = build_llama_spec(keys, types, spec);
  } else {
    fail("{}: unsupported {} '{}' (supported: gpt2, llama)", keys.file(),
         kModelKey, model);
  }
  add_typed_tokens(types, spec);

  auto tokenizer = std::make_unique<BpeTokenizer>(spec, keys.file());
  const int32_t bos_id = keys.token_id(kBosKey, defaults.bos_id, vocab_size);
  const int32_t eos_id = keys.token_id(kEosKey, defaults.eos_id, vocab_size);
  // The default adds BOS only when there is a BOS token. An explicit
  // add_bos_token without one is an error, as in llama.cpp.
  bool add_bos = defaults.add_bos && bos_id >= 0;
  if (keys.has(kAddBosKey)) {
    add_bos = keys.boolean(kAddBosKey);
    if (add_bos && bos_id < 0) {
      fail("{}: {} is true but {} is not set", keys.file(), kAddBosKey,
           kBosKey);
    }
  }
  tokenizer->set_bos_id(bos_id);
  tokenizer->set_eos_id(eos_id);
  tokenizer->set_add_bos(add_bos);
  return tokenizer;
}

std::unique_ptr<Tokenizer> load_gguf_tokenizer(
    const std::filesystem::path& path) {
  const GgufFile gguf(path);
  return load_gguf_tokenizer(gguf);
}

}  // namespace optiq
