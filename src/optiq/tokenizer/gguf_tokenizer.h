// Tokenizers stored in GGUF files: the `tokenizer.ggml.*` keys that
// llama.cpp writes and reads, turned into a BpeTokenizer.
//
// Supported `tokenizer.ggml.model` values:
// - "gpt2": byte-level BPE from `tokens` and `merges`. The pre-tokenizer
//   follows `tokenizer.ggml.pre`, with the names that llama.cpp's
//   src/llama-vocab.cpp (commit 00ad355e) maps to these regexes:
//   - Llama 3 regex: llama3, llama-v3, llama-bpe, falcon3, pixtral, dbrx,
//     smaug-bpe;
//   - Qwen2 regex: qwen2, deepseek-r1-qwen, megrez, stablelm2;
//   - GPT-2 regex: gpt-2, phi-2, mpt, olmo, jais;
//   - single digits, then GPT-2: starcoder, refact, command-r, smollm,
//     codeshell, exaone, minerva-7b;
//   - llama.cpp's fallback regex list: default, or no `pre` key.
// - "llama": SentencePiece BPE from `tokens`, `scores` and `token_type`.
//   Merge rules come from the scores, missing characters fall back to
//   <0xXX> byte tokens, and text gets the "▁" dummy prefix unless
//   `add_space_prefix` is false.
#pragma once

#include <filesystem>
#include <memory>

#include "optiq/tokenizer/tokenizer.h"

namespace optiq {

class GgufFile;

// Token types of `tokenizer.ggml.token_type` (llama.cpp's llama_token_type).
enum class GgufTokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Builds the tokenizer of `gguf`.
// - Control and unknown tokens become special added tokens, which are
//   matched in the text and decode to no text. User-defined tokens become
//   added tokens that decode to their text.
// - BOS and EOS come from `tokenizer.ggml.bos_token_id` and `eos_token_id`.
//   Without them, "llama" uses ids 1 and 2, as llama.cpp does.
// - add_bos() is `tokenizer.ggml.add_bos_token`, else llama.cpp's default:
//   true for "llama" and the Llama 3 pre-tokenizer names when there is a
//   BOS token.
// Throws optiq::Error naming the file, the key and the value for a missing
// or mistyped key, an unsupported model or pre-tokenizer, an array whose
// length differs from the token count, a malformed merge and an id outside
// the vocabulary.
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GgufFile& gguf);

// Opens `path` as a GGUF file (validated as untrusted input) and loads its
// tokenizer as above.
std::unique_ptr<Tokenizer> load_gguf_tokenizer(
    const std::filesystem::path& path);

}  // namespace optiq
