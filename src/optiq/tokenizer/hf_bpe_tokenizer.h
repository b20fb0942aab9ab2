// A BPE tokenizer that behaves like Hugging Face `tokenizers` for the BPE
// model: byte-level vocabularies (GPT-2, Llama 3, Qwen2/3) and
// SentencePiece-style ones stored as BPE (Llama 2, Mistral).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "optiq/tokenizer/hf_added_tokens.h"
#include "optiq/tokenizer/hf_bpe_model.h"
#include "optiq/tokenizer/hf_pre_tokenizer.h"
#include "optiq/tokenizer/hf_spec.h"
#include "optiq/tokenizer/tokenizer.h"

namespace optiq {

class BpeTokenizer : public Tokenizer {
 public:
  // Largest vocabulary accepted: 2^24 ids, far above real vocabularies
  // (Gemma 3 has 262,144), so a corrupt id cannot force a huge table.
  static constexpr int32_t kMaxVocabSize = 1 << 24;

  // Builds the tokenizer. Throws optiq::Error naming `source` (the file the
  // spec came from) for an invalid spec: an unknown merge token, an invalid
  // regex, an added token with a negative or too large id. BOS and EOS
  // start unset (-1) and add_bos() false; the loader sets them.
  BpeTokenizer(const BpeTokenizerSpec& spec, std::string_view source);

  // Encodes as Hugging Face's encode(text, add_special_tokens=False) does:
  // added tokens (special or not) are split off the raw text first, then
  // each remaining segment is normalized, pre-tokenized and run through
  // BPE.
  // NOTE: Hugging Face matches added tokens with normalized=true on the
  // normalized text; here every added token is matched on the raw text,
  // which differs only when the normalizer changes such a token's bytes.
  std::vector<int32_t> encode(std::string_view text) const override;

  // Decodes as Hugging Face's decode(ids, skip_special_tokens=True) does,
  // except that invalid UTF-8 stays raw bytes (see run_decoders). Ids with
  // no token (out of range, or a gap in the vocabulary) are skipped.
  std::string decode(std::span<const int32_t> ids) const override;

  int32_t vocab_size() const override {
    return static_cast<int32_t>(id_to_text_.size());
  }

  // Id of the token with text `token`: an added token first, else a model
  // token; -1 when there is none.
  int32_t token_id(std::string_view token) const;
  // Text of token `id` as stored in the vocabulary ("" when there is none).
  const std::string& token_text(int32_t id) const;
  // Whether `id` is a special added token (skipped by decode()).
  bool is_special(int32_t id) const;

 private:
  std::unique_ptr<BpeModel> model_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  AddedTokenMatcher added_tokens_;
  std::vector<DecoderStep> decoders_;
  // Token text by id: added token content where there is one, else the
  // model's token.
  std::vector<std::string> id_to_text_;
  std::vector<bool> special_;
  TokenIdMap added_token_ids_;
};

}  // namespace optiq
