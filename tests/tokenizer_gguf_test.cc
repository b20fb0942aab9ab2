// load_gguf_tokenizer on small hand-built GGUF vocabularies, where the
// expected ids follow by hand from the merges and the pre-tokenizer regex,
// plus the factory's choice of tokenizer file.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "optiq/core/error.h"
#include "optiq/io/gguf_writer.h"
#include "optiq/tokenizer/gguf_tokenizer.h"
#include "optiq/tokenizer/hf_bpe_tokenizer.h"
#include "optiq/tokenizer/llama2c_tokenizer.h"
#include "optiq/tokenizer/sentencepiece_tokenizer.h"
#include "test_support.h"

namespace optiq {
namespace {

constexpr int32_t kNormal = 1;
constexpr int32_t kUnknown = 2;
constexpr int32_t kControl = 3;
constexpr int32_t kUserDefined = 4;
constexpr int32_t kByte = 6;

// A byte-level vocabulary: "Ġ" (U+0120) is the stand-in for a space.
// Ids: 0 a, 1 b, 2 ab, 3 Ġ, 4 Ġab, 5 1, 6 2, 7 3, 8 4, 9 12, 10 123,
// 11 <|end|> (control), 12 <tool> (user-defined).
GgufWriter gpt2_vocabulary(const std::string& pre) {
  GgufWriter writer;
  writer.set_string("tokenizer.ggml.model", "gpt2");
  if (!pre.empty()) writer.set_string("tokenizer.ggml.pre", pre);
  writer.set_string_array(
      "tokenizer.ggml.tokens",
      {"a", "b", "ab", "\xC4\xA0",
       "\xC4\xA0"
       "ab",
       "1", "2", "3", "4", "12", "123", "<|end|>", "<tool>"});
  std::vector<int32_t> types(13, kNormal);
  types[11] = kControl;
  types[12] = kUserDefined;
  writer.set_int32_array("tokenizer.ggml.token_type", types);
  writer.set_string_array("tokenizer.ggml.merges",
                          {"a b", "\xC4\xA0 ab", "1 2", "12 3"});
  return writer;
}

std::unique_ptr<Tokenizer> load(const GgufWriter& writer) {
  testing::ScratchDir scratch;
  writer.write(scratch / "vocab.gguf");
  return load_gguf_tokenizer(scratch / "vocab.gguf");
}

std::string load_error(const GgufWriter& writer) {
  try {
    load(writer);
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

using Ids = std::vector<int32_t>;

TEST(TokenizerGguf, Gpt2WordsAndAddedTokens) {
  const auto tokenizer = load(gpt2_vocabulary("qwen2"));
  EXPECT_EQ(tokenizer->vocab_size(), 13);
  // Pre-tokens "ab" and "Ġab"; the merges give one token each.
  EXPECT_EQ(tokenizer->encode("ab ab"), (Ids{2, 4}));
  // Added tokens are matched in the raw text.
  EXPECT_EQ(tokenizer->encode("ab<|end|> ab<tool>"), (Ids{2, 11, 4, 12}));
  // The control token has no text; the user-defined one keeps its text.
  EXPECT_EQ(tokenizer->decode(Ids{2, 11, 4, 12}), "ab ab<tool>");
  EXPECT_EQ(tokenizer->bos_id(), -1);
  EXPECT_FALSE(tokenizer->add_bos());
}

// "4123" under each pre-tokenizer family: GPT-2 keeps the digits in one
// pre-token (4 1 2 3 -> 4 12 3 -> 4 123), Llama 3 splits runs of up to
// three digits ("412" "3"), Qwen2 and StarCoder split every digit, and
// llama.cpp's default list splits "\p{N}+" runs into groups of three.
TEST(TokenizerGguf, PreTokenizerFamilies) {
  const std::vector<std::pair<std::string, Ids>> cases = {
      {"gpt-2", {8, 10}},      {"llama-bpe", {8, 9, 7}},
      {"qwen2", {8, 5, 6, 7}}, {"starcoder", {8, 5, 6, 7}},
      {"default", {8, 9, 7}},  {"", {8, 9, 7}},
  };
  for (const auto& [pre, expected] : cases) {
    const auto tokenizer = load(gpt2_vocabulary(pre));
    EXPECT_EQ(tokenizer->encode("4123"), expected) << "pre '" << pre << "'";
  }
}

TEST(TokenizerGguf, Llama3NameAddsBosByDefault) {
  GgufWriter writer = gpt2_vocabulary("llama-bpe");
  writer.set_uint32("tokenizer.ggml.bos_token_id", 11);
  const auto tokenizer = load(writer);
  EXPECT_EQ(tokenizer->bos_id(), 11);
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->encode_for_model("ab"), (Ids{11, 2}));
  EXPECT_EQ(tokenizer->encode_for_model("<|end|>ab"), (Ids{11, 2}));
}

TEST(TokenizerGguf, BosEosAndAddBosKeys) {
  GgufWriter writer = gpt2_vocabulary("gpt-2");
  writer.set_uint32("tokenizer.ggml.bos_token_id", 11);
  writer.set_uint32("tokenizer.ggml.eos_token_id", 12);
  writer.set_bool("tokenizer.ggml.add_bos_token", true);
  const auto tokenizer = load(writer);
  EXPECT_EQ(tokenizer->bos_id(), 11);
  EXPECT_EQ(tokenizer->eos_id(), 12);
  EXPECT_TRUE(tokenizer->add_bos());
}

// A SentencePiece vocabulary: ids 0 <unk>, 1 <s>, 2 </s>, 3 ▁, 4 a, 5 b,
// 6 ▁a, 7 <0x21>. The only merge is ▁ + a, from the score of "▁a".
GgufWriter llama_vocabulary() {
  GgufWriter writer;
  writer.set_string("tokenizer.ggml.model", "llama");
  writer.set_string("tokenizer.ggml.pre", "default");
  writer.set_string_array("tokenizer.ggml.tokens",
                          {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b",
                           "\xE2\x96\x81"
                           "a",
                           "<0x21>"});
  writer.set_float32_array("tokenizer.ggml.scores",
                           {0, 0, 0, -3, -4, -5, -1, 0});
  writer.set_int32_array("tokenizer.ggml.token_type",
                         {kUnknown, kControl, kControl, kNormal, kNormal,
                          kNormal, kNormal, kByte});
  return writer;
}

TEST(TokenizerGguf, LlamaDummyPrefixAndByteFallback) {
  const auto tokenizer = load(llama_vocabulary());
  // "a b" becomes "▁a▁b": ▁a, ▁, b.
  EXPECT_EQ(tokenizer->encode("a b"), (Ids{6, 3, 5}));
  // "!" has no piece, so it falls back to its byte token after "▁".
  EXPECT_EQ(tokenizer->encode("!"), (Ids{3, 7}));
  EXPECT_EQ(tokenizer->decode(Ids{6, 3, 5}), "a b");
  EXPECT_EQ(tokenizer->decode(Ids{3, 7}), "!");
  // llama.cpp's defaults for SentencePiece: BOS 1, EOS 2, add BOS.
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->encode_for_model("<s>a"), (Ids{1, 6}));
}

TEST(TokenizerGguf, LlamaWithoutSpacePrefix) {
  GgufWriter writer = llama_vocabulary();
  writer.set_bool("tokenizer.ggml.add_space_prefix", false);
  const auto tokenizer = load(writer);
  EXPECT_EQ(tokenizer->encode("a b"), (Ids{4, 3, 5}));
  EXPECT_EQ(tokenizer->decode(Ids{4, 3, 5}), "a b");
}

TEST(TokenizerGguf, LlamaIntegerScores) {
  GgufWriter writer = llama_vocabulary();
  writer.set_int32_array("tokenizer.ggml.scores", {0, 0, 0, -3, -4, -5, -1, 0});
  EXPECT_EQ(load(writer)->encode("a b"), (Ids{6, 3, 5}));
}

TEST(TokenizerGguf, UnsupportedModelIsError) {
  GgufWriter writer = gpt2_vocabulary("gpt-2");
  writer.set_string("tokenizer.ggml.model", "bert");
  const std::string message = load_error(writer);
  EXPECT_NE(message.find("tokenizer.ggml.model"), std::string::npos) << message;
  EXPECT_NE(message.find("'bert'"), std::string::npos) << message;
}

TEST(TokenizerGguf, UnsupportedPreIsError) {
  const std::string message = load_error(gpt2_vocabulary("tekken"));
  EXPECT_NE(message.find("tokenizer.ggml.pre"), std::string::npos) << message;
  EXPECT_NE(message.find("'tekken'"), std::string::npos) << message;
}

TEST(TokenizerGguf, MissingTokensIsError) {
  GgufWriter writer;
  writer.set_string("tokenizer.ggml.model", "gpt2");
  const std::string message = load_error(writer);
  EXPECT_NE(message.find("tokenizer.ggml.tokens"), std::string::npos)
      << message;
}

TEST(TokenizerGguf, MissingMergesIsError) {
  GgufWriter writer = gpt2_vocabulary("gpt-2");
  GgufWriter without_merges;
  for (const GgufValue& value : writer.metadata()) {
    if (value.key() != "tokenizer.ggml.merges") without_merges.set(value);
  }
  const std::string message = load_error(without_merges);
  EXPECT_NE(message.find("tokenizer.ggml.merges"), std::string::npos)
      << message;
}

TEST(TokenizerGguf, MalformedMergeIsError) {
  GgufWriter writer = gpt2_vocabulary("gpt-2");
  writer.set_string_array("tokenizer.ggml.merges", {"a b", "ab"});
  const std::string message = load_error(writer);
  EXPECT_NE(message.find("tokenizer.ggml.merges"), std::string::npos)
      << message;
  EXPECT_NE(message.find("\"ab\""), std::string::npos) << message;
}

TEST(TokenizerGguf, TokenTypeLengthMismatchIsError) {
  GgufWriter writer = gpt2_vocabulary("gpt-2");
  writer.set_int32_array("tokenizer.ggml.token_type", {1, 1});
  const std::string message = load_error(writer);
  EXPECT_NE(message.find("tokenizer.ggml.token_type"), std::string::npos)
      << message;
}

TEST(TokenizerGguf, BosOutsideVocabularyIsError) {
  GgufWriter writer = gpt2_vocabulary("gpt-2");
  writer.set_uint32("tokenizer.ggml.bos_token_id", 99);
  const std::string message = load_error(writer);
  EXPECT_NE(message.find("tokenizer.ggml.bos_token_id"), std::string::npos)
      << message;
  EXPECT_NE(message.find("99"), std::string::npos) << message;
}

TEST(TokenizerGguf, MistypedKeyIsError) {
  GgufWriter writer = gpt2_vocabulary("gpt-2");
  writer.set_uint32("tokenizer.ggml.pre", 7);
  const std::string message = load_error(writer);
  EXPECT_NE(message.find("tokenizer.ggml.pre"), std::string::npos) << message;
  EXPECT_NE(message.find("vocab.gguf"), std::string::npos) << message;
}

// load_tokenizer picks the kind by GGUF magic, then by extension, and in a
// folder prefers tokenizer.json, then tokenizer.model, then tokenizer.bin.
TEST(TokenizerFactory, GgufFoundByMagic) {
  testing::ScratchDir scratch;
  gpt2_vocabulary("gpt-2").write(scratch / "vocab.bin");
  const auto tokenizer = load_tokenizer(scratch / "vocab.bin");
  EXPECT_NE(dynamic_cast<const BpeTokenizer*>(tokenizer.get()), nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 13);
}

TEST(TokenizerFactory, FolderPrefersTokenizerJson) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  OPTIQ_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
  OPTIQ_REQUIRE_SHARED("tokenizers/llama2/tokenizer.bin");
  testing::ScratchDir scratch;
  const auto link = [&](const std::string& relative, const std::string& name) {
    std::filesystem::create_symlink(testing::shared_path(relative),
                                    scratch / name);
  };
  link("tokenizers/llama2/tokenizer.bin", "tokenizer.bin");
  EXPECT_NE(dynamic_cast<const Llama2cTokenizer*>(
                load_tokenizer(scratch.path()).get()),
            nullptr);
  link("tokenizers/llama2/tokenizer.model", "tokenizer.model");
  EXPECT_NE(dynamic_cast<const SentencePieceTokenizer*>(
                load_tokenizer(scratch.path()).get()),
            nullptr);
  link("tokenizers/llama3/tokenizer.json", "tokenizer.json");
  link("tokenizers/llama3/tokenizer_config.json", "tokenizer_config.json");
  const auto tokenizer = load_tokenizer(scratch.path());
  EXPECT_EQ(tokenizer->vocab_size(), 128256);
  // BOS and EOS come from the folder's tokenizer_config.json.
  EXPECT_EQ(tokenizer->bos_id(), 128000);
  EXPECT_EQ(tokenizer->eos_id(), 128001);
}

TEST(TokenizerFactory, JsonWithoutConfig) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  testing::ScratchDir scratch;
  std::filesystem::create_symlink(
      testing::shared_path("tokenizers/llama3/tokenizer.json"),
      scratch / "tokenizer.json");
  const auto tokenizer = load_tokenizer(scratch / "tokenizer.json");
  // Without tokenizer_config.json there is no EOS setting.
  EXPECT_EQ(tokenizer->eos_id(), -1);
}

TEST(TokenizerFactory, EmptyFolderIsError) {
  testing::ScratchDir scratch;
  try {
    load_tokenizer(scratch.path());
    ADD_FAILURE() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(scratch.path().string()),
              std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace optiq
