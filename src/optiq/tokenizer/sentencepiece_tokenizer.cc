#include "optiq/tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include "optiq/core/error.h"

namespace optiq {

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& path)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  auto status = processor_->Load(path.string());
  if (!status.ok()) fail("{}: invalid SentencePiece model: {}", path.string(), status.ToString());
  bos_id_ = processor_->bos_id();
  eos_id_ = processor_->eos_id();
  add_bos_ = bos_id_ >= 0;
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  auto status = processor_->Encode(text, &ids);
  if (!status.ok()) fail("SentencePiece encoding failed: {}", status.ToString());
  return {ids.begin(), ids.end()};
}

std::string SentencePieceTokenizer::decode(std::span<const int32_t> ids) const {
  std::vector<int> values(ids.begin(), ids.end());
  for (int id : values) {
    if (id < 0 || id >= vocab_size()) fail("token id {} is outside the vocabulary of {}", id, vocab_size());
  }
  std::string text;
  auto status = processor_->Decode(values, &text);
  if (!status.ok()) fail("SentencePiece decoding failed: {}", status.ToString());
  return text;
}

int32_t SentencePieceTokenizer::vocab_size() const { return processor_->GetPieceSize(); }

}  // namespace optiq
