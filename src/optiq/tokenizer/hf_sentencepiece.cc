#include "optiq/tokenizer/hf_sentencepiece.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "optiq/core/error.h"
#include "optiq/tokenizer/hf_bpe_model.h"
#include "optiq/tokenizer/hf_utf8.h"

namespace optiq {
namespace {

constexpr const char* kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

DecoderStep make_decoder(DecoderStep::Kind kind, std::string pattern = "",
                         std::string content = "", int32_t start = 0) {
  DecoderStep step;
  step.kind = kind;
  step.pattern = std::move(pattern);
  step.content = std::move(content);
  step.start = start;
  return step;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> merges_from_scores(
    const std::vector<std::string>& vocab, const std::vector<float>& scores,
    const std::vector<bool>& mergeable) {
  OPTIQ_ASSERT(scores.size() == vocab.size());
  OPTIQ_ASSERT(mergeable.size() == vocab.size());
  TokenIdMap ids;
  for (size_t id = 0; id < vocab.size(); ++id) {
    if (mergeable[id] && !vocab[id].empty()) {
      ids.emplace(vocab[id], static_cast<int32_t>(id));
    }
  }

  struct Rule {
    float score;
    int32_t merged;
    int32_t left;
    int32_t right;
  };
  std::vector<Rule> rules;
  for (const auto& [piece, merged] : ids) {
    // Split at every character boundary, as the converter slices strings.
    for (size_t pos = utf8::sequence_length(piece, 0); pos < piece.size();
         pos += utf8::sequence_length(piece, pos)) {
      const auto left = ids.find(std::string_view(piece).substr(0, pos));
      const auto right = ids.find(std::string_view(piece).substr(pos));
      if (left != ids.end() && right != ids.end()) {
        // A NaN score would break the sort order, so it ranks last.
        const float score = std::isnan(scores[merged])
                                ? -std::numeric_limits<float>::infinity()
                                : scores[merged];
        rules.push_back({score, merged, left->second, right->second});
      }
    }
  }
  std::sort(rules.begin(), rules.end(), [](const Rule& a, const Rule& b) {
    if (a.score != b.score) return a.score > b.score;
    return std::tie(a.merged, a.left, a.right) <
           std::tie(b.merged, b.left, b.right);
  });

  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(rules.size());
  for (const Rule& rule : rules) {
    merges.emplace_back(vocab[rule.left], vocab[rule.right]);
  }
  return merges;
}

void use_sentencepiece_steps(BpeTokenizerSpec& spec) {
  spec.model.byte_fallback = true;
  spec.model.fuse_unk = true;

  NormalizerStep prepend;
  prepend.kind = NormalizerStep::Kind::kPrepend;
  prepend.content = kSpace;
  NormalizerStep replace;
  replace.kind = NormalizerStep::Kind::kReplace;
  replace.pattern = " ";
  replace.content = kSpace;
  spec.normalizers = {prepend, replace};
  spec.pre_tokenizers.clear();

  spec.decoders = {
      make_decoder(DecoderStep::Kind::kReplace, kSpace, " "),
      make_decoder(DecoderStep::Kind::kByteFallback),
      make_decoder(DecoderStep::Kind::kFuse),
      make_decoder(DecoderStep::Kind::kStrip, "", " ", 1),
  };
}

}  // namespace optiq
