// Text <-> token ids for every tokenizer kind optiq reads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace optiq {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text`, without BOS or EOS.
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;

  // Text of `ids`. Special tokens (BOS, EOS, control tokens) produce no text;
  // for SentencePiece-style vocabularies the leading space of the first
  // piece after BOS (or at the start) is dropped, as SentencePiece and
  // llama2.c do.
  virtual std::string decode(std::span<const int32_t> ids) const = 0;

  virtual int32_t vocab_size() const = 0;

  // -1 when the vocabulary has no such token.
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  // Whether the model expects BOS at the start of a sequence.
  bool add_bos() const { return add_bos_; }

  void set_bos_id(int32_t id) { bos_id_ = id; }
  void set_eos_id(int32_t id) { eos_id_ = id; }
  void set_add_bos(bool add) { add_bos_ = add; }

  // encode(), with BOS first when add_bos() and with_bos. A BOS token that
  // the text already starts with is not doubled.
  std::vector<int32_t> encode_for_model(std::string_view text, bool with_bos = true) const;

 protected:
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  bool add_bos_ = true;
};

// Loads a tokenizer from a llama2.c tokenizer `.bin`, a SentencePiece
// `.model`, a Hugging Face `tokenizer.json`, a GGUF file or a model
// directory (tokenizer.json preferred over tokenizer.model). Throws
// optiq::Error naming the path when the kind is unknown or the file invalid.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path);

}  // namespace optiq
