// SentencePiece `.model` files through libsentencepiece.
#pragma once

#include <filesystem>
#include <memory>

#include "optiq/tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace optiq {

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Throws optiq::Error naming the file when libsentencepiece rejects it.
  explicit SentencePieceTokenizer(const std::filesystem::path& path);
  ~SentencePieceTokenizer() override;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override;

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace optiq
