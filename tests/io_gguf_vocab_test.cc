// Reads llama.cpp's vocab-only GGUF test files and checks their contents
// against outside facts: Meta's Llama 2 SentencePiece model, well-known GPT-2
// token ids, and llama.cpp's tokenizer test vectors (.inp/.out), whose token
// ids must decode back to the input text with the vocabulary read here.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "optiq/core/error.h"
#include "optiq/io/gguf_file.h"
#include "test_support.h"

namespace optiq {
namespace {

constexpr char kVocabDir[] = "tokenizers/llama.cpp-vocab/";

// llama.cpp's token types (llama_token_type in llama.h).
constexpr int64_t kTokenNormal = 1;
constexpr int64_t kTokenUnknown = 2;
constexpr int64_t kTokenControl = 3;
constexpr int64_t kTokenByte = 6;

std::vector<std::string> split(const std::string& text,
                               const std::string& separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(separator, start);
    if (end == std::string::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + separator.size();
  }
}

// Test strings of a llama.cpp `.inp` file and the expected ids of each from
// the matching `.out` file.
struct TokenizerVectors {
  std::vector<std::string> texts;
  std::vector<std::vector<int64_t>> ids;
};

TokenizerVectors read_vectors(const std::string& vocab) {
  const std::string base = std::string(kVocabDir) + vocab;
  TokenizerVectors vectors;
  vectors.texts = split(testing::read_text(testing::shared_path(base + ".inp")),
                        "\n__ggml_vocab_test__\n");
  vectors.texts.pop_back();  // the file ends with a separator
  std::vector<std::string> lines =
      split(testing::read_text(testing::shared_path(base + ".out")), "\n");
  for (size_t i = 0; i < vectors.texts.size() && i < lines.size(); ++i) {
    std::vector<int64_t> ids;
    for (const std::string& word : split(lines[i], " ")) {
      if (!word.empty()) ids.push_back(std::stoll(word));
    }
    vectors.ids.push_back(std::move(ids));
  }
  return vectors;
}

// Decodes UTF-8 into code points; the test inputs are valid UTF-8.
std::vector<char32_t> utf8_code_points(const std::string& text) {
  std::vector<char32_t> points;
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<uint8_t>(text[i]);
    const int length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    char32_t point = length == 1   ? lead
                     : length == 2 ? lead & 0x1F
                     : length == 3 ? lead & 0x0F
                                   : lead & 0x07;
    for (int k = 1; k < length; ++k) {
      point = (point << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3F);
    }
    points.push_back(point);
    i += length;
  }
  return points;
}

// GPT-2's byte-level alphabet (bytes_to_unicode in OpenAI's encoder.py):
// printable bytes 33-126, 161-172 and 174-255 stand for themselves, the
// other 68 bytes map in increasing order to code points 256, 257, ...
std::map<char32_t, uint8_t> gpt2_byte_decoder() {
  std::map<char32_t, uint8_t> decoder;
  char32_t next = 256;
  for (int byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= 33 && byte <= 126) ||
                           (byte >= 161 && byte <= 172) || byte >= 174;
    decoder[printable ? static_cast<char32_t>(byte) : next++] =
        static_cast<uint8_t>(byte);
  }
  return decoder;
}

TEST(GgufVocab, LlamaSpmMetadata) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  GgufFile file(testing::shared_path(
      "tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf"));
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.alignment(), 32u);
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_EQ(file.metadata().size(), 22u);
  EXPECT_EQ(file.metadata().front().key(), "general.architecture");
  EXPECT_EQ(file.at("general.architecture").as_string(), "llama");
  EXPECT_EQ(file.at("tokenizer.ggml.model").as_string(), "llama");
  EXPECT_EQ(file.at("llama.block_count").as_uint64(), 32u);
  EXPECT_EQ(file.at("llama.embedding_length").as_int64(), 4096);
  EXPECT_FLOAT_EQ(
      static_cast<float>(
          file.at("llama.attention.layer_norm_rms_epsilon").as_float()),
      1e-5f);
  EXPECT_EQ(file.at("tokenizer.ggml.bos_token_id").as_int64(), 1);
  EXPECT_EQ(file.at("tokenizer.ggml.eos_token_id").as_int64(), 2);
  EXPECT_TRUE(file.at("tokenizer.ggml.add_bos_token").as_bool());
  EXPECT_FALSE(file.at("tokenizer.ggml.add_eos_token").as_bool());
  EXPECT_EQ(file.find("tokenizer.ggml.merges"), nullptr);

  const auto& tokens = file.at("tokenizer.ggml.tokens").as_string_array();
  ASSERT_EQ(tokens.size(), 32000u);
  EXPECT_EQ(file.at("llama.vocab_size").as_uint64(), tokens.size());
  EXPECT_EQ(file.at("tokenizer.ggml.scores").array_size(), tokens.size());
  EXPECT_EQ(file.at("tokenizer.ggml.token_type").array_size(), tokens.size());
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[2], "</s>");
  for (int byte = 0; byte < 256; ++byte) {
    EXPECT_EQ(tokens[3 + byte], fmt::format("<0x{:02X}>", byte));
  }
}

// Every piece, score and token type agrees with Meta's Llama 2
// tokenizer.model read through the SentencePiece library.
TEST(GgufVocab, LlamaSpmMatchesSentencePiece) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  OPTIQ_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
  GgufFile file(testing::shared_path(
      "tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf"));
  sentencepiece::SentencePieceProcessor processor;
  ASSERT_TRUE(
      processor
          .Load(testing::shared_path("tokenizers/llama2/tokenizer.model")
                    .string())
          .ok());
  const auto& tokens = file.at("tokenizer.ggml.tokens").as_string_array();
  const std::vector<float> scores =
      file.at("tokenizer.ggml.scores").as_float_array();
  const std::vector<int64_t> types =
      file.at("tokenizer.ggml.token_type").as_int_array();
  ASSERT_EQ(static_cast<int>(tokens.size()), processor.GetPieceSize());
  ASSERT_EQ(scores.size(), tokens.size());
  ASSERT_EQ(types.size(), tokens.size());
  int mismatches = 0;
  for (int id = 0; id < processor.GetPieceSize(); ++id) {
    int64_t expected_type = kTokenNormal;
    if (processor.IsUnknown(id)) expected_type = kTokenUnknown;
    if (processor.IsControl(id)) expected_type = kTokenControl;
    if (processor.IsByte(id)) expected_type = kTokenByte;
    const bool same = tokens[id] == processor.IdToPiece(id) &&
                      scores[id] == processor.GetScore(id) &&
                      types[id] == expected_type;
    if (!same && ++mismatches <= 5) {
      ADD_FAILURE() << "id " << id << ": gguf '" << tokens[id] << "' "
                    << scores[id] << " type " << types[id]
                    << ", sentencepiece '" << processor.IdToPiece(id) << "' "
                    << processor.GetScore(id) << " type " << expected_type;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// The reference ids of each test string, decoded with the pieces read here,
// give back the string with SentencePiece's dummy-prefix space.
TEST(GgufVocab, LlamaSpmDecodesTestVectors) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf");
  GgufFile file(testing::shared_path(
      "tokenizers/llama.cpp-vocab/ggml-vocab-llama-spm.gguf"));
  const auto& tokens = file.at("tokenizer.ggml.tokens").as_string_array();
  const TokenizerVectors vectors = read_vectors("ggml-vocab-llama-spm.gguf");
  ASSERT_EQ(vectors.texts.size(), 46u);
  ASSERT_EQ(vectors.ids.size(), vectors.texts.size());
  const std::string space_marker = "\u2581";
  for (size_t i = 0; i < vectors.texts.size(); ++i) {
    std::string decoded;
    for (int64_t id : vectors.ids[i]) {
      ASSERT_LT(id, static_cast<int64_t>(tokens.size()));
      const std::string& piece = tokens[id];
      if (piece.size() == 6 && piece.starts_with("<0x")) {
        decoded.push_back(
            static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
        continue;
      }
      for (size_t at = 0; at < piece.size();) {
        if (piece.compare(at, space_marker.size(), space_marker) == 0) {
          decoded.push_back(' ');
          at += space_marker.size();
        } else {
          decoded.push_back(piece[at++]);
        }
      }
    }
    const std::string& text = vectors.texts[i];
    EXPECT_EQ(decoded, text.empty() ? "" : " " + text) << "test string " << i;
  }
}

TEST(GgufVocab, Gpt2Metadata) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
  GgufFile file(
      testing::shared_path("tokenizers/llama.cpp-vocab/ggml-vocab-gpt-2.gguf"));
  EXPECT_EQ(file.version(), 3u);
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_EQ(file.at("general.architecture").as_string(), "gpt2");
  EXPECT_EQ(file.at("tokenizer.ggml.model").as_string(), "gpt2");
  EXPECT_EQ(file.at("tokenizer.ggml.pre").as_string(), "gpt-2");
  EXPECT_EQ(file.at("gpt2.context_length").as_int64(), 1024);
  EXPECT_EQ(file.at("gpt2.embedding_length").as_int64(), 768);

  // GPT-2's published vocabulary: 50257 tokens, 50000 merges, id 50256 is
  // <|endoftext|>, "Hello" is 15496 and " world" 995 (Ġ marks the space).
  const auto& tokens = file.at("tokenizer.ggml.tokens").as_string_array();
  ASSERT_EQ(tokens.size(), 50257u);
  EXPECT_EQ(file.at("tokenizer.ggml.token_type").array_size(), tokens.size());
  EXPECT_EQ(tokens[0], "!");
  EXPECT_EQ(tokens[198], "\u010a");  // "\n"
  EXPECT_EQ(tokens[220], "\u0120");  // " "
  EXPECT_EQ(tokens[995], "\u0120world");
  EXPECT_EQ(tokens[15496], "Hello");
  EXPECT_EQ(tokens[50256], "<|endoftext|>");
  EXPECT_EQ(file.at("tokenizer.ggml.bos_token_id").as_int64(), 50256);
  EXPECT_EQ(file.at("tokenizer.ggml.eos_token_id").as_int64(), 50256);
  const std::vector<int64_t> types =
      file.at("tokenizer.ggml.token_type").as_int_array();
  EXPECT_EQ(types[15496], kTokenNormal);
  EXPECT_EQ(types[50256], kTokenControl);

  const auto& merges = file.at("tokenizer.ggml.merges").as_string_array();
  ASSERT_EQ(merges.size(), 50000u);
  EXPECT_EQ(merges[0], "\u0120 t");  // first line of GPT-2's merges.txt
}

// The reference ids of each test string, mapped through the byte-level
// alphabet, give back the string's bytes.
TEST(GgufVocab, Gpt2DecodesTestVectors) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
  GgufFile file(
      testing::shared_path("tokenizers/llama.cpp-vocab/ggml-vocab-gpt-2.gguf"));
  const auto& tokens = file.at("tokenizer.ggml.tokens").as_string_array();
  const TokenizerVectors vectors = read_vectors("ggml-vocab-gpt-2.gguf");
  ASSERT_EQ(vectors.texts.size(), 46u);
  ASSERT_EQ(vectors.ids.size(), vectors.texts.size());
  const std::map<char32_t, uint8_t> decoder = gpt2_byte_decoder();
  for (size_t i = 0; i < vectors.texts.size(); ++i) {
    std::string decoded;
    for (int64_t id : vectors.ids[i]) {
      ASSERT_LT(id, static_cast<int64_t>(tokens.size()));
      for (char32_t point : utf8_code_points(tokens[id])) {
        auto it = decoder.find(point);
        ASSERT_NE(it, decoder.end()) << "token " << id;
        decoded.push_back(static_cast<char>(it->second));
      }
    }
    EXPECT_EQ(decoded, vectors.texts[i]) << "test string " << i;
  }
}

TEST(GgufVocab, AccessorTypeMismatchNamesKey) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama.cpp-vocab/ggml-vocab-gpt-2.gguf");
  GgufFile file(
      testing::shared_path("tokenizers/llama.cpp-vocab/ggml-vocab-gpt-2.gguf"));
  try {
    file.at("gpt2.block_count").as_string();
    FAIL() << "as_string on a u32 did not throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("'gpt2.block_count'"),
              std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("u32"), std::string::npos)
        << error.what();
  }
  try {
    file.at("no.such.key");
    FAIL() << "at() on a missing key did not throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("ggml-vocab-gpt-2.gguf"),
              std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("'no.such.key'"),
              std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace optiq
