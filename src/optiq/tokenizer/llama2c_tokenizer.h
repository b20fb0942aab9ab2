// llama2.c tokenizer `.bin` files: int32 max_token_length, then per token a
// float32 merge score, an int32 byte length and the piece bytes. Encoding
// follows llama2.c run.c: a dummy space prefix, code points looked up as
// pieces (bytes as <0xXX> tokens at id byte+3 otherwise), then repeated
// merges of the adjacent pair whose merged piece has the highest score.
#pragma once

#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "optiq/tokenizer/tokenizer.h"

namespace optiq {

class Llama2cTokenizer : public Tokenizer {
 public:
  // Throws optiq::Error naming the file on a truncated or malformed file.
  explicit Llama2cTokenizer(const std::filesystem::path& path);

  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }

  const std::string& piece(int32_t id) const { return pieces_.at(id); }
  float score(int32_t id) const { return scores_.at(id); }

 private:
  int32_t lookup(const std::string& piece) const;

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> ids_;
};

}  // namespace optiq
