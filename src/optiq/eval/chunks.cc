#include "optiq/eval/chunks.h"

#include "optiq/core/error.h"

namespace optiq {

std::string_view protocol_name(EvalProtocol protocol) {
  return protocol == EvalProtocol::kLlamaCpp ? "llama.cpp" : "documents";
}

EvalProtocol parse_protocol(std::string_view name) {
  if (name == "llama.cpp" || name == "llamacpp") return EvalProtocol::kLlamaCpp;
  if (name == "documents") return EvalProtocol::kDocuments;
  fail("invalid protocol '{}': expected llama.cpp or documents", name);
}

std::vector<EvalSequence> make_eval_sequences(const Tokenizer& tokenizer, std::string_view text,
                                              const EvalOptions& options) {
  if (options.ctx < 4) fail("invalid context size {}: must be at least 4", options.ctx);
  std::vector<EvalSequence> sequences;
  const bool use_bos = tokenizer.add_bos() && tokenizer.bos_id() >= 0;
  if (options.protocol == EvalProtocol::kLlamaCpp) {
    std::vector<int32_t> tokens = tokenizer.encode_for_model(text, /*with_bos=*/true);
    const int64_t count = static_cast<int64_t>(tokens.size());
    if (count < 2 * options.ctx) {
      fail("text has {} tokens; the llama.cpp protocol needs at least 2 x ctx = {} (use a longer "
           "text or a smaller --ctx)",
           count, 2 * options.ctx);
    }
    int64_t chunks = count / options.ctx;
    if (options.max_chunks > 0) chunks = std::min(chunks, options.max_chunks);
    for (int64_t i = 0; i < chunks; ++i) {
      EvalSequence sequence;
      sequence.tokens.assign(tokens.begin() + i * options.ctx,
                             tokens.begin() + (i + 1) * options.ctx);
      if (use_bos) sequence.tokens[0] = tokenizer.bos_id();
      sequence.first_scored = options.ctx / 2;
      sequences.push_back(std::move(sequence));
    }
    return sequences;
  }

  if (options.separator.empty()) fail("the documents protocol needs a non-empty --separator");
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(options.separator, start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view document = text.substr(start, end - start);
    start = end + options.separator.size();
    if (document.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      if (end == text.size()) break;
      continue;
    }
    EvalSequence sequence;
    sequence.tokens = tokenizer.encode_for_model(document, /*with_bos=*/true);
    int64_t limit = options.ctx;
    if (options.max_tokens > 0) limit = std::min(limit, options.max_tokens + (use_bos ? 1 : 0));
    if (static_cast<int64_t>(sequence.tokens.size()) > limit) sequence.tokens.resize(limit);
    if (sequence.tokens.size() >= 2) sequences.push_back(std::move(sequence));
    if (options.max_chunks > 0 && static_cast<int64_t>(sequences.size()) >= options.max_chunks) break;
    if (end == text.size()) break;
  }
  if (sequences.empty()) fail("text has no document with at least 2 tokens to score");
  return sequences;
}

}  // namespace optiq
