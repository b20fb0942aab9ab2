// Loading Hugging Face `tokenizer.json` (and `tokenizer_config.json`)
// files. Only the BPE model is supported; Unigram, WordPiece and WordLevel
// files are rejected with an error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "optiq/tokenizer/hf_spec.h"
#include "optiq/tokenizer/tokenizer.h"

namespace optiq {

// BOS settings read from tokenizer.json's "post_processor".
struct PostProcessorBos {
  // Whether there is a processor that defines the special tokens of a
  // sequence (TemplateProcessing, RobertaProcessing, BertProcessing), so
  // that `adds_bos` is meaningful.
  bool has_template = false;
  // Whether the single-sequence template starts with a special token.
  bool adds_bos = false;
  std::string bos_token;  // that token's text
  int32_t bos_id = -1;    // and id, when the template lists it
};

struct HfTokenizerJson {
  BpeTokenizerSpec spec;
  PostProcessorBos post_processor;
};

// Reads a tokenizer.json. Throws optiq::Error naming the file and the key
// for invalid JSON, a missing or unsupported model, normalizer,
// pre-tokenizer or decoder, and malformed vocabulary, merges or added
// tokens.
HfTokenizerJson read_hf_tokenizer_json(const std::filesystem::path& path);

// Loads a BPE tokenizer from `tokenizer_json`, with BOS/EOS ids and
// add_bos() taken from `tokenizer_config_json` (may be null):
// - bos_token / eos_token (a string, or an object with "content") name the
//   BOS / EOS tokens; null leaves the id at -1. Without a config, BOS comes
//   from the post_processor template.
// - add_bos() is the config's add_bos_token when present, else whether a
//   post_processor template starts with a special token, else whether the
//   vocabulary has a BOS token (Meta's first Llama 3 tokenizer.json has
//   neither setting, and llama.cpp adds BOS for it).
// Throws optiq::Error naming the file and key for any invalid input, and
// when bos_token / eos_token names a token that is not in the vocabulary.
std::unique_ptr<Tokenizer> load_hf_tokenizer(
    const std::filesystem::path& tokenizer_json,
    const std::filesystem::path* tokenizer_config_json);

}  // namespace optiq
