// Building blocks of the Hugging Face BPE tokenizer against hand-computed
// cases and published examples.
#include <gtest/gtest.h>

#include "optiq/core/error.h"
#include "optiq/tokenizer/hf_added_tokens.h"
#include "optiq/tokenizer/hf_bpe_tokenizer.h"
#include "optiq/tokenizer/hf_byte_level.h"
#include "optiq/tokenizer/hf_decoder.h"
#include "optiq/tokenizer/hf_pre_tokenizer.h"
#include "optiq/tokenizer/hf_regex.h"
#include "optiq/tokenizer/hf_unicode_nfc.h"

namespace optiq {
namespace {

using Strings = std::vector<std::string>;

TEST(TokenizerHfByteLevel, Gpt2StandIns) {
  std::string mapped;
  byte_level_encode(" \n!~\xA0\xAD\xFF", mapped);
  // Space -> U+0120, '\n' -> U+010A, printable bytes unchanged, 0xA0 ->
  // U+0142 and 0xAD -> U+0143 (the last two non-printable bytes).
  EXPECT_EQ(mapped, "\xC4\xA0\xC4\x8A!~\xC5\x82\xC5\x83\xC3\xBF");
  std::string bytes;
  ASSERT_TRUE(byte_level_decode(mapped, bytes));
  EXPECT_EQ(bytes, " \n!~\xA0\xAD\xFF");
}

TEST(TokenizerHfByteLevel, AllBytesRoundTrip) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string mapped;
  byte_level_encode(all, mapped);
  std::string back;
  ASSERT_TRUE(byte_level_decode(mapped, back));
  EXPECT_EQ(back, all);
}

TEST(TokenizerHfByteLevel, RejectsNonStandIn) {
  std::string out = "keep";
  EXPECT_FALSE(byte_level_decode("a\xE2\x96\x81", out));  // "a▁"
  EXPECT_EQ(out, "keep");
}

TEST(TokenizerHfNfc, ComposesBaseAndMark) {
  EXPECT_EQ(to_nfc("e\xCC\x81"), "\xC3\xA9");  // e + U+0301 -> é
  EXPECT_EQ(to_nfc("A\xCC\x8A"), "\xC3\x85");  // A + ring -> Å
}

TEST(TokenizerHfNfc, ReordersMarksThenComposes) {
  // UAX #15 example: U+1E0A U+0323 (D-dot-above, dot-below) has NFC
  // U+1E0C U+0307 (D-dot-below, dot-above).
  EXPECT_EQ(to_nfc("\xE1\xB8\x8A\xCC\xA3"), "\xE1\xB8\x8C\xCC\x87");
}

TEST(TokenizerHfNfc, SingletonsAndExclusions) {
  // U+212B ANGSTROM SIGN -> U+00C5; U+0958 (excluded from composition)
  // stays decomposed as U+0915 U+093C.
  EXPECT_EQ(to_nfc("\xE2\x84\xAB"), "\xC3\x85");
  EXPECT_EQ(to_nfc("\xE0\xA5\x98"), "\xE0\xA4\x95\xE0\xA4\xBC");
}

TEST(TokenizerHfNfc, Hangul) {
  // U+1100 U+1161 U+11A8 -> U+AC01 (GAG).
  EXPECT_EQ(to_nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), "\xEA\xB0\x81");
}

TEST(TokenizerHfNfc, KeepsNfcAndInvalidBytes) {
  const std::string text = "Cửa Việt \xC3\xA9 \xFF\xFE 🦙";
  EXPECT_EQ(to_nfc(text), text);
}

TEST(TokenizerHfRegex, UnicodeClassesAndLookahead) {
  const Regex regex(R"(\p{L}+|\s+(?!\S)|\s+)", "test");
  Strings pieces;
  const std::string text = "héllo  мир";
  regex.for_each_match(text, [&](size_t start, size_t end) {
    pieces.push_back(text.substr(start, end - start));
  });
  EXPECT_EQ(pieces, (Strings{"héllo", " ", " ", "мир"}));
}

TEST(TokenizerHfRegex, InvalidPatternIsError) {
  EXPECT_THROW(Regex("[a", "test"), Error);
}

// Hugging Face's documentation example for the Split pre-tokenizer:
// "the-final--countdown" split on "-".
Strings split(SplitBehavior behavior, bool invert = false) {
  const std::string text = "the-final--countdown";
  std::vector<std::pair<size_t, size_t>> ranges;
  split_by_behavior(text, nullptr, "-", behavior, invert, ranges);
  Strings pieces;
  for (const auto& [start, end] : ranges) {
    pieces.push_back(text.substr(start, end - start));
  }
  return pieces;
}

TEST(TokenizerHfSplit, Behaviors) {
  EXPECT_EQ(split(SplitBehavior::kRemoved),
            (Strings{"the", "final", "countdown"}));
  EXPECT_EQ(split(SplitBehavior::kIsolated),
            (Strings{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split(SplitBehavior::kMergedWithPrevious),
            (Strings{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split(SplitBehavior::kMergedWithNext),
            (Strings{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split(SplitBehavior::kContiguous),
            (Strings{"the", "-", "final", "--", "countdown"}));
}

TEST(TokenizerHfSplit, InvertedRemovesText) {
  EXPECT_EQ(split(SplitBehavior::kRemoved, true), (Strings{"-", "-", "-"}));
}

TEST(TokenizerHfPreTokenizer, MetaspaceSplitsBeforeReplacement) {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kMetaspace;
  step.prepend_scheme = PrependScheme::kFirst;
  const PreTokenizer pre_tokenizer({step}, "test");
  Strings pieces;
  pre_tokenizer.pre_tokenize("Hey friend", true, pieces);
  EXPECT_EQ(pieces, (Strings{"▁Hey", "▁friend"}));
  pieces.clear();
  // "first": no prepend for a segment that does not start the input.
  pre_tokenizer.pre_tokenize("Hey friend", false, pieces);
  EXPECT_EQ(pieces, (Strings{"Hey", "▁friend"}));
}

TEST(TokenizerHfPreTokenizer, ByteLevelWithGpt2Pattern) {
  const PreTokenizer pre_tokenizer(gpt2_byte_level(), "test");
  Strings pieces;
  pre_tokenizer.pre_tokenize("Hello  world's", true, pieces);
  EXPECT_EQ(pieces, (Strings{"Hello", "Ġ", "Ġworld", "'s"}));
}

TEST(TokenizerHfPreTokenizer, DigitsContiguousAndIndividual) {
  PreTokenizerStep step;
  step.kind = PreTokenizerStep::Kind::kDigits;
  Strings pieces;
  PreTokenizer({step}, "test").pre_tokenize("ab123c4", true, pieces);
  EXPECT_EQ(pieces, (Strings{"ab", "123", "c", "4"}));
  step.individual_digits = true;
  pieces.clear();
  PreTokenizer({step}, "test").pre_tokenize("ab123c4", true, pieces);
  EXPECT_EQ(pieces, (Strings{"ab", "1", "2", "3", "c", "4"}));
}

TEST(TokenizerHfAddedTokens, LongestMatchAndStrip) {
  AddedToken short_token{10, "<a>"};
  AddedToken long_token{11, "<a><b>"};
  AddedToken stripped{12, "[X]"};
  stripped.lstrip = true;
  stripped.rstrip = true;
  const AddedTokenMatcher matcher({short_token, long_token, stripped});
  const std::string text = "q<a><b>r<a>s  [X] t";
  std::vector<std::pair<std::string, int32_t>> got;
  for (const auto& segment : matcher.split(text)) {
    got.emplace_back(text.substr(segment.start, segment.end - segment.start),
                     segment.id);
  }
  const std::vector<std::pair<std::string, int32_t>> expected = {
      {"q", -1}, {"<a><b>", 11}, {"r", -1}, {"<a>", 10},
      {"s", -1}, {"  [X] ", 12}, {"t", -1}};
  EXPECT_EQ(got, expected);
}

TEST(TokenizerHfAddedTokens, SingleWord) {
  AddedToken token{5, "cat"};
  token.single_word = true;
  const AddedTokenMatcher matcher({token});
  const auto inside = matcher.split("concatenate");
  ASSERT_EQ(inside.size(), 1u);
  EXPECT_EQ(inside[0].id, -1);
  const auto alone = matcher.split("a cat!");
  ASSERT_EQ(alone.size(), 3u);
  EXPECT_EQ(alone[1].id, 5);
}

DecoderStep decoder_step(DecoderStep::Kind kind, std::string pattern = "",
                         std::string content = "", int32_t start = 0) {
  DecoderStep step;
  step.kind = kind;
  step.pattern = std::move(pattern);
  step.content = std::move(content);
  step.start = start;
  return step;
}

TEST(TokenizerHfDecoder, SentencePieceChain) {
  const DecoderStep replace =
      decoder_step(DecoderStep::Kind::kReplace, "▁", " ");
  const DecoderStep fallback = decoder_step(DecoderStep::Kind::kByteFallback);
  const DecoderStep fuse = decoder_step(DecoderStep::Kind::kFuse);
  const DecoderStep strip = decoder_step(DecoderStep::Kind::kStrip, "", " ", 1);
  // "▁Hi", then U+00E9 as two byte tokens, then "▁there".
  EXPECT_EQ(run_decoders({replace, fallback, fuse, strip},
                         {"▁Hi", "<0xC3>", "<0xA9>", "▁there"}),
            "Hi\xC3\xA9 there");
}

TEST(TokenizerHfDecoder, NoStepsJoinsWithSpaces) {
  EXPECT_EQ(run_decoders({}, {"a", "b"}), "a b");
}

// A SentencePiece-style BPE over "a", "b", "ab", "▁", "▁ab" with byte
// fallback for everything else.
BpeTokenizerSpec tiny_spm_spec() {
  BpeTokenizerSpec spec;
  spec.model.vocab = {"<unk>", "a", "b", "ab", "▁", "▁ab"};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    spec.model.vocab.push_back(name);
  }
  spec.model.merges = {{"a", "b"}, {"▁", "ab"}};
  spec.model.unk_token = "<unk>";
  spec.model.byte_fallback = true;
  NormalizerStep prepend{NormalizerStep::Kind::kPrepend, "", false, "▁"};
  NormalizerStep replace{NormalizerStep::Kind::kReplace, " ", false, "▁"};
  spec.normalizers = {prepend, replace};
  spec.decoders = {
      decoder_step(DecoderStep::Kind::kReplace, "▁", " "),
      decoder_step(DecoderStep::Kind::kByteFallback),
      decoder_step(DecoderStep::Kind::kFuse),
      decoder_step(DecoderStep::Kind::kStrip, "", " ", 1),
  };
  return spec;
}

TEST(TokenizerHfBpe, SentencePieceStyleWithByteFallback) {
  const BpeTokenizer tokenizer(tiny_spm_spec(), "test");
  // "ab ab" -> "▁ab▁ab"; 'c' is missing and falls back to byte 0x63 (id 6 +
  // 0x63 = 105).
  EXPECT_EQ(tokenizer.encode("ab abc"), (std::vector<int32_t>{5, 5, 105}));
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("ab abc")), "ab abc");
  EXPECT_EQ(tokenizer.encode(""), std::vector<int32_t>{});
}

TEST(TokenizerHfBpe, UnknownCharactersFuse) {
  BpeTokenizerSpec spec = tiny_spm_spec();
  spec.model.vocab.resize(6);  // drop the byte tokens
  spec.model.byte_fallback = false;
  spec.model.fuse_unk = true;
  const BpeTokenizer fused(spec, "test");
  EXPECT_EQ(fused.encode("abxyb"), (std::vector<int32_t>{5, 0, 2}));
  spec.model.fuse_unk = false;
  const BpeTokenizer separate(spec, "test");
  EXPECT_EQ(separate.encode("abxyb"), (std::vector<int32_t>{5, 0, 0, 2}));
}

TEST(TokenizerHfBpe, MergeRankOrder) {
  // "abc" with merges (b c) before (a b): BPE must form "a" + "bc".
  BpeTokenizerSpec spec;
  spec.model.vocab = {"a", "b", "c", "ab", "bc", "abc"};
  spec.model.merges = {{"b", "c"}, {"a", "b"}, {"a", "bc"}};
  const BpeTokenizer tokenizer(spec, "test");
  EXPECT_EQ(tokenizer.encode("abc"), (std::vector<int32_t>{5}));
  spec.model.merges = {{"b", "c"}, {"a", "b"}};
  const BpeTokenizer no_full(spec, "test");
  EXPECT_EQ(no_full.encode("abc"), (std::vector<int32_t>{0, 4}));
}

TEST(TokenizerHfBpe, IgnoreMergesUsesWholeWord) {
  // "abc" is in the vocabulary but no merge sequence reaches it.
  BpeTokenizerSpec spec;
  spec.model.vocab = {"a", "b", "c", "ab", "abc"};
  spec.model.merges = {{"a", "b"}};
  const BpeTokenizer plain(spec, "test");
  EXPECT_EQ(plain.encode("abc"), (std::vector<int32_t>{3, 2}));
  spec.model.ignore_merges = true;
  const BpeTokenizer direct(spec, "test");
  EXPECT_EQ(direct.encode("abc"), (std::vector<int32_t>{4}));
}

TEST(TokenizerHfBpe, RepeatedEncodeUsesSameIds) {
  // The second call is served by the pre-token cache.
  BpeTokenizerSpec spec;
  spec.model.vocab = {"a", "b", "ab"};
  spec.model.merges = {{"a", "b"}};
  spec.pre_tokenizers = gpt2_byte_level();
  const BpeTokenizer tokenizer(spec, "test");
  EXPECT_EQ(tokenizer.encode("abab"), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(tokenizer.encode("abab"), (std::vector<int32_t>{2, 2}));
}

}  // namespace
}  // namespace optiq
