#include "optiq/tokenizer/hf_bpe_tokenizer.h"

#include "optiq/core/error.h"
#include "optiq/tokenizer/hf_decoder.h"

namespace optiq {

BpeTokenizer::BpeTokenizer(const BpeTokenizerSpec& spec,
                           std::string_view source)
    : model_(std::make_unique<BpeModel>(spec.model, source)),
      normalizer_(spec.normalizers, source),
      pre_tokenizer_(spec.pre_tokenizers, source),
      added_tokens_(spec.added_tokens),
      decoders_(spec.decoders),
      id_to_text_(spec.model.vocab) {
  set_add_bos(false);
  if (id_to_text_.size() > static_cast<size_t>(kMaxVocabSize)) {
    fail("{}: vocabulary has {} tokens, more than the supported {}", source,
         id_to_text_.size(), kMaxVocabSize);
  }
  special_.assign(id_to_text_.size(), false);
  for (const AddedToken& token : spec.added_tokens) {
    if (token.id < 0 || token.id >= kMaxVocabSize) {
      fail("{}: added token \"{}\" has invalid id {}", source, token.content,
           token.id);
    }
    if (token.content.empty()) {
      fail("{}: added token with id {} has empty content", source, token.id);
    }
    const auto index = static_cast<size_t>(token.id);
    if (index >= id_to_text_.size()) {
      id_to_text_.resize(index + 1);
      special_.resize(index + 1, false);
    }
    id_to_text_[index] = token.content;
    special_[index] = token.special;
    added_token_ids_.emplace(token.content, token.id);
  }
}

int32_t BpeTokenizer::token_id(std::string_view token) const {
  const auto it = added_token_ids_.find(token);
  if (it != added_token_ids_.end()) return it->second;
  return model_->token_id(token);
}

const std::string& BpeTokenizer::token_text(int32_t id) const {
  static const std::string empty;
  if (id < 0 || id >= vocab_size()) return empty;
  return id_to_text_[id];
}

bool BpeTokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && special_[id];
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  std::vector<std::string> pre_tokens;
  for (const auto& segment : added_tokens_.split(text)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    const std::string normalized = normalizer_.normalize(
        text.substr(segment.start, segment.end - segment.start));
    pre_tokens.clear();
    pre_tokenizer_.pre_tokenize(normalized, segment.start == 0, pre_tokens);
    for (const std::string& pre_token : pre_tokens) {
      model_->tokenize(pre_token, ids);
    }
  }
  return ids;
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size() || special_[id]) continue;
    if (id_to_text_[id].empty()) continue;
    tokens.push_back(id_to_text_[id]);
  }
  return run_decoders(decoders_, std::move(tokens));
}

}  // namespace optiq
