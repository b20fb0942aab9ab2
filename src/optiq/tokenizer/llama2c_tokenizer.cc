#include "optiq/tokenizer/llama2c_tokenizer.h"

#include <cstring>
#include <limits>
#include <queue>

#include "optiq/core/error.h"
#include "optiq/io/mapped_file.h"

namespace optiq {
namespace {

// llama2.c's exporter writes BOS and EOS as "\n<s>\n" and "\n</s>\n", and
// byte tokens as "<0xXX>" at ids 3..258.
constexpr int32_t kBos = 1;
constexpr int32_t kEos = 2;
constexpr int32_t kFirstByteToken = 3;

// Parses "<0xXX>"; returns -1 when `piece` is not a byte token.
int parse_byte_piece(const std::string& piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
  int value = 0;
  for (int i = 3; i < 5; ++i) {
    char c = piece[i];
    int digit = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                         : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

}  // namespace

Llama2cTokenizer::Llama2cTokenizer(const std::filesystem::path& path) {
  MappedFile file(path);
  const std::string name = path.string();
  const uint8_t* p = file.data();
  size_t remaining = file.size();
  auto read = [&](void* dst, size_t n, const char* what) {
    if (n > remaining) {
      fail("{}: truncated tokenizer file: {} needs {} bytes at offset {}, {} left", name, what,
           n, file.size() - remaining, remaining);
    }
    std::memcpy(dst, p, n);
    p += n;
    remaining -= n;
  };
  int32_t max_token_length = 0;
  read(&max_token_length, 4, "max_token_length");
  if (max_token_length <= 0 || max_token_length > 1 << 16) {
    fail("{}: invalid max_token_length {}", name, max_token_length);
  }
  while (remaining > 0) {
    float score = 0;
    int32_t length = 0;
    read(&score, 4, "score");
    read(&length, 4, "piece length");
    if (length < 0 || length > max_token_length) {
      fail("{}: token {} has invalid length {} (max_token_length {})", name, pieces_.size(),
           length, max_token_length);
    }
    std::string piece(static_cast<size_t>(length), '\0');
    read(piece.data(), piece.size(), "piece bytes");
    ids_.emplace(piece, static_cast<int32_t>(pieces_.size()));
    pieces_.push_back(std::move(piece));
    scores_.push_back(score);
  }
  if (pieces_.size() < kFirstByteToken + 256) {
    fail("{}: {} tokens, fewer than the 259 that BOS, EOS and byte tokens need", name,
         pieces_.size());
  }
  bos_id_ = kBos;
  eos_id_ = kEos;
  add_bos_ = true;
}

int32_t Llama2cTokenizer::lookup(const std::string& piece) const {
  auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<int32_t> Llama2cTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> tokens;
  if (text.empty()) return tokens;
  int32_t space = lookup(" ");
  if (space >= 0) tokens.push_back(space);

  // Code points (UTF-8 sequences of up to 4 bytes) become pieces, or bytes.
  size_t i = 0;
  while (i < text.size()) {
    size_t length = 1;
    while (i + length < text.size() && length < 4 &&
           (static_cast<uint8_t>(text[i + length]) & 0xC0) == 0x80) {
      ++length;
    }
    std::string code_point(text.substr(i, length));
    int32_t id = lookup(code_point);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (char c : code_point) tokens.push_back(static_cast<uint8_t>(c) + kFirstByteToken);
    }
    i += length;
  }

  // Merge the best-scoring adjacent pair until no pair forms a piece; on
  // equal scores the leftmost pair goes first, as in llama2.c's loop. A heap
  // of candidate pairs over a linked list of symbols makes this O(n log n)
  // instead of llama2.c's O(n²), with the same result.
  const size_t n = tokens.size();
  std::vector<int64_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (size_t k = 0; k < n; ++k) {
    prev[k] = static_cast<int64_t>(k) - 1;
    next[k] = k + 1 < n ? static_cast<int64_t>(k + 1) : -1;
  }
  struct Candidate {
    float score;
    int64_t left;
    int32_t left_id, right_id, merged;
  };
  auto worse = [](const Candidate& a, const Candidate& b) {
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> heap(worse);
  auto push = [&](int64_t left) {
    if (left < 0 || next[left] < 0) return;
    int64_t right = next[left];
    int32_t id = lookup(pieces_[tokens[left]] + pieces_[tokens[right]]);
    if (id >= 0) heap.push({scores_[id], left, tokens[left], tokens[right], id});
  };
  for (size_t k = 0; k + 1 < n; ++k) push(static_cast<int64_t>(k));
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    int64_t right = next[c.left];
    // Skip stale entries: a side was merged away or changed since the push.
    if (!alive[c.left] || right < 0 || tokens[c.left] != c.left_id || tokens[right] != c.right_id) {
      continue;
    }
    tokens[c.left] = c.merged;
    alive[right] = false;
    next[c.left] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.left;
    push(prev[c.left]);
    push(c.left);
  }
  std::vector<int32_t> merged;
  for (int64_t k = n > 0 ? 0 : -1; k >= 0; k = next[k]) merged.push_back(tokens[k]);
  return merged;
}

std::string Llama2cTokenizer::decode(std::span<const int32_t> ids) const {
  std::string text;
  int32_t previous = kBos;  // a sequence starts as if after BOS
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) fail("token id {} is outside the vocabulary of {}", id, vocab_size());
    if (id == kBos || id == kEos) {
      previous = id;
      continue;
    }
    const std::string& piece = pieces_[id];
    int byte = parse_byte_piece(piece);
    if (byte >= 0) {
      text.push_back(static_cast<char>(byte));
    } else if (previous == kBos && !piece.empty() && piece[0] == ' ') {
      text.append(piece, 1);
    } else {
      text.append(piece);
    }
    previous = id;
  }
  return text;
}

}  // namespace optiq
