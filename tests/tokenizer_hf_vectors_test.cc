// llama.cpp's tokenizer test vectors (46 strings with the expected ids, no
// BOS) against the Llama 3 and Qwen3 tokenizer.json files and against the
// Llama 2 SentencePiece vocabulary expressed as BPE.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "optiq/tokenizer/hf_bpe_tokenizer.h"
#include "optiq/tokenizer/hf_sentencepiece.h"
#include "optiq/tokenizer/hf_tokenizer.h"
#include "test_support.h"

namespace optiq {
namespace {

constexpr size_t kVectorCount = 46;

// Strings of a llama.cpp `.inp` file: each is followed by the separator
// line, so the piece after the last separator is empty and dropped.
std::vector<std::string> read_inputs(const std::filesystem::path& path) {
  const std::string text = testing::read_text(path);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> strings;
  size_t start = 0;
  for (size_t hit = text.find(separator); hit != std::string::npos;
       hit = text.find(separator, start)) {
    strings.push_back(text.substr(start, hit - start));
    start = hit + separator.size();
  }
  return strings;
}

// Expected ids of a llama.cpp `.out` file, one line per string.
std::vector<std::vector<int32_t>> read_outputs(
    const std::filesystem::path& path) {
  std::istringstream lines(testing::read_text(path));
  std::vector<std::vector<int32_t>> outputs;
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::vector<int32_t> ids;
    int32_t id = 0;
    while (words >> id) ids.push_back(id);
    outputs.push_back(std::move(ids));
  }
  return outputs;
}

const std::string kVocabDir = "tokenizers/llama.cpp-vocab/";

// Encodes every vector string and counts exact matches; each mismatch is a
// separate failure naming the string.
void expect_vectors(const Tokenizer& tokenizer, const std::string& name) {
  const auto inputs =
      read_inputs(testing::shared_path(kVocabDir + name + ".inp"));
  const auto outputs =
      read_outputs(testing::shared_path(kVocabDir + name + ".out"));
  ASSERT_EQ(inputs.size(), kVectorCount);
  ASSERT_EQ(outputs.size(), kVectorCount);
  size_t passed = 0;
  for (size_t i = 0; i < kVectorCount; ++i) {
    const std::vector<int32_t> ids = tokenizer.encode(inputs[i]);
    EXPECT_EQ(ids, outputs[i])
        << name << " string " << i << ": \"" << inputs[i] << "\"";
    passed += ids == outputs[i];
  }
  EXPECT_EQ(passed, kVectorCount);
}

// decode(encode(s)) == s for every vector string.
void expect_round_trip(const Tokenizer& tokenizer, const std::string& name) {
  const auto inputs =
      read_inputs(testing::shared_path(kVocabDir + name + ".inp"));
  ASSERT_EQ(inputs.size(), kVectorCount);
  for (size_t i = 0; i < kVectorCount; ++i) {
    EXPECT_EQ(tokenizer.decode(tokenizer.encode(inputs[i])), inputs[i])
        << name << " string " << i;
  }
}

// Loads each tokenizer once for the whole test binary.
const Tokenizer& llama3() {
  static const auto tokenizer = [] {
    const auto config =
        testing::shared_path("tokenizers/llama3/tokenizer_config.json");
    return load_hf_tokenizer(
        testing::shared_path("tokenizers/llama3/tokenizer.json"), &config);
  }();
  return *tokenizer;
}

const Tokenizer& qwen3() {
  static const auto tokenizer = [] {
    const auto config =
        testing::shared_path("tokenizers/qwen3/tokenizer_config.json");
    return load_hf_tokenizer(
        testing::shared_path("tokenizers/qwen3/tokenizer.json"), &config);
  }();
  return *tokenizer;
}

// Llama 2's vocabulary from llama2.c's tokenizer.bin (int32 max length,
// then per token float32 score, int32 length, bytes; "▁" written as ' ',
// <s> and </s> written as "\n<s>\n" and "\n</s>\n"), as a BPE spec the way
// a GGUF reader builds one from tokenizer.ggml.tokens and scores.
BpeTokenizerSpec llama2_spec() {
  std::ifstream in(testing::shared_path("tokenizers/llama2/tokenizer.bin"),
                   std::ios::binary);
  const auto read_i32 = [&] {
    int32_t value = 0;
    in.read(reinterpret_cast<char*>(&value), sizeof value);
    return value;
  };
  read_i32();  // max token length
  BpeTokenizerSpec spec;
  std::vector<float> scores;
  std::vector<bool> mergeable;
  for (int id = 0; id < 32000; ++id) {
    float score = 0;
    in.read(reinterpret_cast<char*>(&score), sizeof score);
    std::string piece(read_i32(), '\0');
    in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
    std::string token;
    for (char c : piece)
      token += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
    const bool is_byte = token.size() == 6 && token.rfind("<0x", 0) == 0;
    if (id == 1) token = "<s>";
    if (id == 2) token = "</s>";
    spec.model.vocab.push_back(token);
    scores.push_back(score);
    mergeable.push_back(id > 2 && !is_byte);
  }
  EXPECT_TRUE(in.good());
  spec.model.merges = merges_from_scores(spec.model.vocab, scores, mergeable);
  spec.model.unk_token = "<unk>";
  spec.added_tokens = {{0, "<unk>", true}, {1, "<s>", true}, {2, "</s>", true}};
  use_sentencepiece_steps(spec);
  return spec;
}

const BpeTokenizer& llama2() {
  static const BpeTokenizer tokenizer(llama2_spec(), "llama2 tokenizer.bin");
  return tokenizer;
}

TEST(TokenizerHfVectors, Llama3MatchesLlamaCpp) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-llama-bpe.gguf.inp");
  expect_vectors(llama3(), "ggml-vocab-llama-bpe.gguf");
}

TEST(TokenizerHfVectors, Qwen3MatchesLlamaCppQwen2) {
  OPTIQ_REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-qwen2.gguf.inp");
  expect_vectors(qwen3(), "ggml-vocab-qwen2.gguf");
}

TEST(TokenizerHfVectors, Llama2BpeMatchesLlamaCppSpm) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama2/tokenizer.bin");
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-llama-spm.gguf.inp");
  expect_vectors(llama2(), "ggml-vocab-llama-spm.gguf");
}

TEST(TokenizerHfVectors, Llama3RoundTrip) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-llama-bpe.gguf.inp");
  expect_round_trip(llama3(), "ggml-vocab-llama-bpe.gguf");
}

TEST(TokenizerHfVectors, Qwen3RoundTrip) {
  OPTIQ_REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-qwen2.gguf.inp");
  expect_round_trip(qwen3(), "ggml-vocab-qwen2.gguf");
}

TEST(TokenizerHfVectors, Llama2RoundTrip) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama2/tokenizer.bin");
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-llama-spm.gguf.inp");
  expect_round_trip(llama2(), "ggml-vocab-llama-spm.gguf");
}

TEST(TokenizerHfVectors, Llama3SpotChecks) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  // Published with the tokenizer files (computed by @lenml/tokenizers).
  EXPECT_EQ(llama3().encode("Once upon a time, there was a little girl "
                            "named Lily."),
            (std::vector<int32_t>{12805, 5304, 264, 892, 11, 1070, 574, 264,
                                  2697, 3828, 7086, 48390, 13}));
}

TEST(TokenizerHfVectors, Qwen3SpotChecks) {
  OPTIQ_REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  EXPECT_EQ(qwen3().encode("Once upon a time, there was a little girl "
                           "named Lily."),
            (std::vector<int32_t>{12522, 5193, 264, 882, 11, 1052, 572, 264,
                                  2632, 3743, 6941, 47290, 13}));
}

TEST(TokenizerHfVectors, Llama2SentencePieceSpotCheck) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama2/tokenizer.bin");
  // SentencePiece 0.1.97 with Meta's tokenizer.model gives these ids.
  EXPECT_EQ(llama2().encode("Hello world! Once upon a time"),
            (std::vector<int32_t>{15043, 3186, 29991, 9038, 2501, 263, 931}));
}

}  // namespace
}  // namespace optiq
