#include "optiq/tokenizer/hf_decoder.h"

#include <string_view>

#include "optiq/tokenizer/hf_byte_level.h"

namespace optiq {
namespace {

std::string replace_all(std::string_view text, std::string_view from,
                        std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  size_t pos = 0;
  for (size_t hit = text.find(from); hit != std::string_view::npos;
       hit = text.find(from, pos)) {
    out.append(text, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(text, pos);
  return out;
}

// Value of a "<0xXX>" token (exactly six bytes, two hex digits), or -1.
int byte_token_value(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') {
    return -1;
  }
  int value = 0;
  for (char c : token.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= c - '0';
    } else if (c >= 'A' && c <= 'F') {
      value |= c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      value |= c - 'a' + 10;
    } else {
      return -1;
    }
  }
  return value;
}

std::vector<std::string> decode_byte_level(std::vector<std::string> tokens) {
  std::string joined;
  for (const std::string& token : tokens) {
    // A token with a character outside the byte map keeps its own bytes.
    // ASCII added tokens such as "<think>" map to themselves either way.
    if (!byte_level_decode(token, joined)) joined += token;
  }
  return {joined};
}

std::vector<std::string> decode_byte_fallback(std::vector<std::string> tokens) {
  std::vector<std::string> out;
  std::string bytes;
  for (std::string& token : tokens) {
    const int value = byte_token_value(token);
    if (value >= 0) {
      bytes.push_back(static_cast<char>(value));
      continue;
    }
    if (!bytes.empty()) out.push_back(std::move(bytes));
    bytes.clear();
    out.push_back(std::move(token));
  }
  if (!bytes.empty()) out.push_back(std::move(bytes));
  return out;
}

// Removes up to `start` leading and `stop` trailing copies of the character
// `content` from each token.
void strip_tokens(std::vector<std::string>& tokens, std::string_view content,
                  int start, int stop) {
  if (content.empty()) return;
  for (std::string& token : tokens) {
    size_t begin = 0;
    for (int i = 0;
         i < start && token.compare(begin, content.size(), content) == 0; ++i) {
      begin += content.size();
    }
    size_t end = token.size();
    for (int i = 0;
         i < stop && end >= begin + content.size() &&
         token.compare(end - content.size(), content.size(), content) == 0;
         ++i) {
      end -= content.size();
    }
    token = token.substr(begin, end - begin);
  }
}

}  // namespace

std::string run_decoders(const std::vector<DecoderStep>& steps,
                         std::vector<std::string> tokens) {
  if (steps.empty()) {
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) joined += ' ';
      joined += tokens[i];
    }
    return joined;
  }
  for (const DecoderStep& step : steps) {
    switch (step.kind) {
      case DecoderStep::Kind::kByteLevel:
        tokens = decode_byte_level(std::move(tokens));
        break;
      case DecoderStep::Kind::kReplace:
        for (std::string& token : tokens) {
          token = replace_all(token, step.pattern, step.content);
        }
        break;
      case DecoderStep::Kind::kByteFallback:
        tokens = decode_byte_fallback(std::move(tokens));
        break;
      case DecoderStep::Kind::kFuse: {
        std::string joined;
        for (const std::string& token : tokens) joined += token;
        tokens = {joined};
        break;
      }
      case DecoderStep::Kind::kStrip:
        strip_tokens(tokens, step.content, step.start, step.stop);
        break;
      case DecoderStep::Kind::kMetaspace:
        // Every replacement character in the first token is dropped when
        // the encoder prepends one, as in Hugging Face.
        for (size_t i = 0; i < tokens.size(); ++i) {
          const bool drop =
              i == 0 && step.prepend_scheme != PrependScheme::kNever;
          tokens[i] = replace_all(tokens[i], step.replacement, drop ? "" : " ");
        }
        break;
    }
  }
  std::string out;
  for (const std::string& token : tokens) out += token;
  return out;
}

}  // namespace optiq
