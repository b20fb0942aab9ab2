// Cutting token streams into evaluation sequences, shared by perplexity and
// KL-divergence evaluation so both score the same positions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "optiq/tokenizer/tokenizer.h"

namespace optiq {

enum class EvalProtocol {
  // llama.cpp's llama-perplexity: tokenize the whole text (BOS first when the
  // model uses BOS), cut non-overlapping chunks of ctx tokens, set each
  // chunk's first token to BOS, score positions ctx/2 .. ctx-2 (each
  // predicting the next token). Needs at least 2·ctx tokens.
  kLlamaCpp,
  // Split the text on a separator; each document is scored from BOS with a
  // fresh KV cache, every position predicting the next token, optionally only
  // the first max_tokens tokens.
  kDocuments,
};

struct EvalOptions {
  EvalProtocol protocol = EvalProtocol::kLlamaCpp;
  int64_t ctx = 512;
  std::string separator = "\n\n";
  int64_t max_tokens = 0;  // documents protocol: 0 means whole documents (up to ctx)
  int64_t max_chunks = 0;  // 0: all
};

// One sequence to run and the positions whose logits are scored: logits at
// position j predict tokens[j + 1] for j in [first_scored, tokens.size() - 1).
struct EvalSequence {
  std::vector<int32_t> tokens;
  int64_t first_scored = 0;
};

// Throws optiq::Error when the text yields nothing to score (for example
// fewer than 2·ctx tokens under the llama.cpp protocol).
std::vector<EvalSequence> make_eval_sequences(const Tokenizer& tokenizer, std::string_view text,
                                              const EvalOptions& options);

std::string_view protocol_name(EvalProtocol protocol);
EvalProtocol parse_protocol(std::string_view name);

}  // namespace optiq
