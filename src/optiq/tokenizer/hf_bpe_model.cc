#include "optiq/tokenizer/hf_bpe_model.h"

#include <fmt/format.h>

#include <limits>
#include <queue>

#include "optiq/core/error.h"
#include "optiq/tokenizer/hf_utf8.h"

namespace optiq {
namespace {

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
         static_cast<uint32_t>(right);
}

// A merge candidate between the symbol at `left` and its right neighbour.
// The queue pops the lowest rank first and, among equal ranks, the leftmost
// pair, as Hugging Face's BPE does.
struct Candidate {
  uint32_t rank;
  int32_t left;
  int32_t merged_id;
  bool operator>(const Candidate& other) const {
    return rank != other.rank ? rank > other.rank : left > other.left;
  }
};

// One symbol of the word being merged, in a doubly linked list over the
// initial symbol array. A symbol merged into its left neighbour gets id -1.
struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
};

}  // namespace

BpeModel::BpeModel(const BpeModelSpec& spec, std::string_view source)
    : vocab_(spec.vocab),
      fuse_unk_(spec.fuse_unk),
      byte_fallback_(spec.byte_fallback),
      ignore_merges_(spec.ignore_merges),
      continuing_subword_prefix_(spec.continuing_subword_prefix),
      end_of_word_suffix_(spec.end_of_word_suffix) {
  if (vocab_.size() >
      static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    fail("{}: vocabulary of {} tokens is too large", source, vocab_.size());
  }
  token_to_id_.reserve(vocab_.size());
  for (size_t id = 0; id < vocab_.size(); ++id) {
    if (!vocab_[id].empty()) {
      token_to_id_.emplace(vocab_[id], static_cast<int32_t>(id));
    }
  }

  merges_.reserve(spec.merges.size());
  const size_t prefix_length = continuing_subword_prefix_.size();
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [left, right] = spec.merges[rank];
    const int32_t left_id = token_id(left);
    const int32_t right_id = token_id(right);
    if (left_id < 0 || right_id < 0) {
      fail(
          "{}: merges[{}] (\"{}\", \"{}\") names token \"{}\", which is "
          "not in the vocabulary",
          source, rank, left, right, left_id < 0 ? left : right);
    }
    // The right part loses its continuing-subword prefix when merged.
    std::string merged = left;
    if (right.compare(0, prefix_length, continuing_subword_prefix_) == 0) {
      merged.append(right, prefix_length);
    } else {
      merged += right;
    }
    const int32_t merged_id = token_id(merged);
    if (merged_id < 0) {
      fail(
          "{}: merges[{}] (\"{}\", \"{}\") produces token \"{}\", which is "
          "not in the vocabulary",
          source, rank, left, right, merged);
    }
    // A repeated pair keeps its first (highest-priority) rank.
    merges_.emplace(pair_key(left_id, right_id),
                    Merge{static_cast<uint32_t>(rank), merged_id});
  }

  for (int byte = 0; byte < 256; ++byte) {
    byte_token_ids_[byte] = token_id(fmt::format("<0x{:02X}>", byte));
  }
  if (!spec.unk_token.empty()) {
    unk_id_ = token_id(spec.unk_token);
    if (unk_id_ < 0) {
      fail("{}: unk_token \"{}\" is not in the vocabulary", source,
           spec.unk_token);
    }
  }
}

int32_t BpeModel::token_id(std::string_view token) const {
  const auto it = token_to_id_.find(token);
  return it == token_to_id_.end() ? -1 : it->second;
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
  const auto it = merges_.find(pair_key(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::tokenize(std::string_view word,
                        std::vector<int32_t>& ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const int32_t id = token_id(word);
    if (id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    const auto it = cache_.find(word);
    if (it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = ids.size();
  merge_word(word, ids);
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() < kMaxCacheEntries) {
      cache_.emplace(std::string(word),
                     std::vector<int32_t>(ids.begin() + first, ids.end()));
    }
  }
}

// Splits `word` into one symbol per UTF-8 character (an invalid byte counts
// as a character), with the continuing-subword prefix on all but the first
// and the end-of-word suffix on the last. A character missing from the
// vocabulary becomes its <0xXX> byte tokens (byte_fallback, when all exist)
// or the unknown token, where consecutive unknowns fuse with fuse_unk. A
// character with neither is dropped, as in Hugging Face.
void BpeModel::add_char_symbols(std::string_view word,
                                std::vector<int32_t>& symbols) const {
  const bool decorate =
      !continuing_subword_prefix_.empty() || !end_of_word_suffix_.empty();
  std::string decorated;
  bool pending_unk = false;
  for (size_t pos = 0; pos < word.size();) {
    const size_t length = utf8::sequence_length(word, pos);
    std::string_view piece = word.substr(pos, length);
    if (decorate) {
      decorated.clear();
      if (pos != 0) decorated += continuing_subword_prefix_;
      decorated += piece;
      if (pos + length == word.size()) decorated += end_of_word_suffix_;
      piece = decorated;
    }
    pos += length;

    const int32_t id = token_id(piece);
    if (id >= 0) {
      if (pending_unk) symbols.push_back(unk_id_);
      pending_unk = false;
      symbols.push_back(id);
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes_known = true;
      for (char c : piece) {
        all_bytes_known &= byte_token_ids_[static_cast<uint8_t>(c)] >= 0;
      }
      if (all_bytes_known) {
        // The pending unknown stays pending across byte tokens, as in
        // Hugging Face.
        for (char c : piece) {
          symbols.push_back(byte_token_ids_[static_cast<uint8_t>(c)]);
        }
        continue;
      }
    }
    if (unk_id_ >= 0) {
      if (pending_unk && !fuse_unk_) symbols.push_back(unk_id_);
      pending_unk = true;
    }
  }
  if (pending_unk) symbols.push_back(unk_id_);
}

void BpeModel::merge_word(std::string_view word,
                          std::vector<int32_t>& ids) const {
  std::vector<int32_t> initial;
  initial.reserve(word.size());
  add_char_symbols(word, initial);
  const int32_t count = static_cast<int32_t>(initial.size());
  if (count <= 1) {
    ids.insert(ids.end(), initial.begin(), initial.end());
    return;
  }

  std::vector<Symbol> symbols(count);
  for (int32_t i = 0; i < count; ++i) {
    symbols[i] = Symbol{initial[i], i - 1, i + 1 < count ? i + 1 : -1};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto push_candidate = [&](int32_t left) {
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    if (const Merge* merge = find_merge(symbols[left].id, symbols[right].id)) {
      queue.push(Candidate{merge->rank, left, merge->merged_id});
    }
  };
  for (int32_t i = 0; i + 1 < count; ++i) push_candidate(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.left];
    // Skip candidates made stale by an earlier merge: the left symbol was
    // absorbed, or either side changed since the candidate was queued.
    if (left.id < 0 || left.next < 0) continue;
    const Merge* merge = find_merge(left.id, symbols[left.next].id);
    if (merge == nullptr || merge->merged_id != top.merged_id) continue;

    Symbol& right = symbols[left.next];
    left.id = top.merged_id;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.id = -1;
    if (left.prev >= 0) push_candidate(left.prev);
    push_candidate(top.left);
  }

  for (int32_t i = 0; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
}

}  // namespace optiq
