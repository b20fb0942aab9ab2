// The BPE model of a Hugging Face tokenizer: maps one pre-token to ids by
// applying merge rules in rank order, as tokenizers' `BPE` model does.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "optiq/tokenizer/hf_spec.h"

namespace optiq {

// Hash for std::string keys that also accepts std::string_view lookups.
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const {
    return std::hash<std::string_view>{}(text);
  }
};

using TokenIdMap =
    std::unordered_map<std::string, int32_t, StringViewHash, std::equal_to<>>;

class BpeModel {
 public:
  // Builds the lookup tables. Throws optiq::Error naming `source` (the file
  // and key the spec came from) when a merge names a token that is not in
  // the vocabulary, when the merged token is missing, or when unk_token is
  // not in the vocabulary. When several ids share one token text, the
  // lowest id wins for encoding.
  BpeModel(const BpeModelSpec& spec, std::string_view source);

  // Appends the ids of the pre-token `word` to `ids`. Safe to call from
  // several threads at once (the memo table is guarded by a mutex).
  void tokenize(std::string_view word, std::vector<int32_t>& ids) const;

  // Id of the token with text `token`, or -1.
  int32_t token_id(std::string_view token) const;

  // Token texts by id ("" for an id without a token).
  const std::vector<std::string>& vocab() const { return vocab_; }

 private:
  struct Merge {
    uint32_t rank;
    int32_t merged_id;
  };

  void merge_word(std::string_view word, std::vector<int32_t>& ids) const;
  void add_char_symbols(std::string_view word,
                        std::vector<int32_t>& symbols) const;
  const Merge* find_merge(int32_t left, int32_t right) const;

  std::vector<std::string> vocab_;
  TokenIdMap token_to_id_;
  // Key: left id in the high 32 bits, right id in the low 32 bits.
  std::unordered_map<uint64_t, Merge> merges_;
  // Id of "<0xXX>" for each byte, or -1 (used with byte_fallback).
  std::array<int32_t, 256> byte_token_ids_{};
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;

  // Memo of pre-token -> ids. Text repeats words heavily, so most
  // pre-tokens skip the merge loop. Bounded by kMaxCacheEntries; entries are
  // never evicted, later words are just not stored.
  static constexpr size_t kMaxCacheEntries = 1 << 16;
  static constexpr size_t kMaxCachedWordBytes = 256;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringViewHash,
                             std::equal_to<>>
      cache_;
};

}  // namespace optiq
