#include "optiq/tokenizer/hf_added_tokens.h"

#include <algorithm>

#include "optiq/tokenizer/hf_regex.h"
#include "optiq/tokenizer/hf_utf8.h"

namespace optiq {
namespace {

bool matches_whole(const Regex& regex, std::string_view text) {
  bool matched = false;
  regex.for_each_match(text, [&](size_t start, size_t end) {
    matched |= start == 0 && end == text.size();
  });
  return matched;
}

bool is_word_char(std::string_view character) {
  static const Regex word(R"(\w)", "added token word check");
  return matches_whole(word, character);
}

bool is_space_char(std::string_view character) {
  static const Regex space(R"(\s)", "added token space check");
  return matches_whole(space, character);
}

// Start of the UTF-8 character that ends at text[end - 1].
size_t previous_char_start(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && end - start < 4 &&
         (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) {
    --start;
  }
  // Fall back to one byte when the bytes do not form one valid character.
  return utf8::sequence_length(text, start) == end - start ? start : end - 1;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens)
    : nodes_(1) {
  for (const AddedToken& token : tokens) {
    if (token.content.empty()) continue;
    int32_t node = 0;
    for (char c : token.content) {
      const auto byte = static_cast<uint8_t>(c);
      int32_t next = child(node, byte);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        auto& children = nodes_[node].children;
        children.insert(std::lower_bound(children.begin(), children.end(),
                                         std::make_pair(byte, int32_t{0})),
                        {byte, next});
        nodes_.emplace_back();
      }
      node = next;
    }
    // The first of several tokens with the same content wins.
    if (nodes_[node].token < 0) {
      nodes_[node].token = static_cast<int32_t>(tokens_.size());
      tokens_.push_back(token);
    }
    first_byte_[static_cast<uint8_t>(token.content[0])] = true;
  }
}

int32_t AddedTokenMatcher::child(int32_t node, uint8_t byte) const {
  const auto& children = nodes_[node].children;
  const auto it = std::lower_bound(children.begin(), children.end(),
                                   std::make_pair(byte, int32_t{0}));
  return it != children.end() && it->first == byte ? it->second : -1;
}

int32_t AddedTokenMatcher::longest_match(std::string_view text, size_t pos,
                                         size_t& length) const {
  int32_t node = 0;
  int32_t best = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    if (nodes_[node].token >= 0) {
      best = nodes_[node].token;
      length = i + 1 - pos;
    }
  }
  return best;
}

std::vector<AddedTokenMatcher::Segment> AddedTokenMatcher::split(
    std::string_view text) const {
  std::vector<Segment> segments;
  size_t segment_start = 0;  // end of the last emitted token
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = 0;
    const int32_t index = first_byte_[static_cast<uint8_t>(text[pos])]
                              ? longest_match(text, pos, length)
                              : -1;
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[index];
    size_t start = pos;
    size_t stop = pos + length;
    if (token.single_word) {
      const bool word_before =
          start > 0 &&
          is_word_char(text.substr(previous_char_start(text, start),
                                   start - previous_char_start(text, start)));
      const bool word_after =
          stop < text.size() &&
          is_word_char(text.substr(stop, utf8::sequence_length(text, stop)));
      if (word_before || word_after) {
        pos = stop;
        continue;
      }
    }
    if (token.lstrip) {
      while (start > segment_start) {
        const size_t previous = previous_char_start(text, start);
        if (!is_space_char(text.substr(previous, start - previous))) break;
        start = previous;
      }
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        const size_t next_length = utf8::sequence_length(text, stop);
        if (!is_space_char(text.substr(stop, next_length))) break;
        stop += next_length;
      }
    }
    if (start > segment_start) segments.push_back({segment_start, start, -1});
    segments.push_back({start, stop, token.id});
    segment_start = stop;
    pos = stop;
  }
  if (segment_start < text.size()) {
    segments.push_back({segment_start, text.size(), -1});
  }
  return segments;
}

}  // namespace optiq
