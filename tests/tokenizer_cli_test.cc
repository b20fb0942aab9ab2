// `optiq tokenize` against llama.cpp's tokenizer test vectors for every kind
// of tokenizer file the CLI reads: Hugging Face tokenizer.json (Llama 3,
// Qwen3), vocabulary-only GGUF files (GPT-2, Llama SentencePiece) and a
// SentencePiece .model (Llama 2). llama.cpp's ids must also decode back to
// each string.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace optiq {
namespace {

constexpr size_t kVectorCount = 46;
const std::string kVocabDir = "tokenizers/llama.cpp-vocab/";

// Runs the optiq binary with `args` (shell words) and `input` on stdin.
testing::CommandResult run_with_input(const std::string& args,
                                      const std::string& input) {
  testing::ScratchDir scratch;
  {
    std::ofstream stream(scratch / "in", std::ios::binary);
    stream.write(input.data(), static_cast<std::streamsize>(input.size()));
  }
  const std::string command = std::string(OPTIQ_BINARY) + " " + args + " < '" +
                              (scratch / "in").string() + "' > '" +
                              (scratch / "out").string() + "' 2> '" +
                              (scratch / "err").string() + "'";
  const int status = std::system(command.c_str());
  testing::CommandResult result;
  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = testing::read_text(scratch / "out");
  result.err = testing::read_text(scratch / "err");
  return result;
}

std::string quoted(const std::filesystem::path& path) {
  return "'" + path.string() + "'";
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::istringstream words(text);
  std::vector<int32_t> ids;
  int32_t id = 0;
  while (words >> id) ids.push_back(id);
  return ids;
}

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string text;
  for (int32_t id : ids) text += (text.empty() ? "" : " ") + std::to_string(id);
  return text;
}

const std::string kSeparator = "\n__ggml_vocab_test__\n";

// Splits the text of a llama.cpp `.inp` file into its strings. Every string
// is followed by the separator line, so the empty piece after the last one
// is dropped.
std::vector<std::string> split_strings(const std::string& text) {
  std::vector<std::string> strings;
  size_t start = 0;
  for (size_t hit = text.find(kSeparator); hit != std::string::npos;
       hit = text.find(kSeparator, start)) {
    strings.push_back(text.substr(start, hit - start));
    start = hit + kSeparator.size();
  }
  return strings;
}

std::vector<std::string> read_inputs(const std::string& vectors) {
  return split_strings(
      testing::read_text(testing::shared_path(kVocabDir + vectors + ".inp")));
}

// Expected ids of a llama.cpp `.out` file, one line per string.
std::vector<std::vector<int32_t>> read_outputs(const std::string& vectors) {
  std::istringstream lines(
      testing::read_text(testing::shared_path(kVocabDir + vectors + ".out")));
  std::vector<std::vector<int32_t>> outputs;
  std::string line;
  while (std::getline(lines, line)) outputs.push_back(parse_ids(line));
  return outputs;
}

// A special added token that joins the strings into one input. Added
// tokens are split off the text before normalization and pre-tokenization,
// so the ids between two joiners are the ids of that string encoded alone.
struct Joiner {
  std::string text;
  int32_t id;
};

std::vector<std::vector<int32_t>> split_ids(const std::vector<int32_t>& ids,
                                            int32_t joiner) {
  std::vector<std::vector<int32_t>> parts(1);
  for (int32_t id : ids) {
    if (id == joiner) {
      parts.emplace_back();
    } else {
      parts.back().push_back(id);
    }
  }
  return parts;
}

// Runs `optiq tokenize --no-bos` and returns the ids it prints.
std::vector<int32_t> encode_run(const std::string& tokenizer,
                                const std::string& text) {
  const testing::CommandResult result =
      run_with_input("tokenize --tokenizer " + tokenizer + " --no-bos", text);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return parse_ids(result.out);
}

// Runs `optiq tokenize --decode` and returns the text it prints.
std::string decode_run(const std::string& tokenizer,
                       const std::vector<int32_t>& ids) {
  const testing::CommandResult result = run_with_input(
      "tokenize --tokenizer " + tokenizer + " --decode", join_ids(ids));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.out;
}

// Encodes the vector strings with `optiq tokenize --no-bos` and decodes
// llama.cpp's ids with `optiq tokenize --decode`. Every mismatch is its own
// failure naming the string.
//
// With a joiner, all strings are encoded in one run. This saves 45
// launches, and a tokenizer.json takes a second or more to load. Byte-level
// BPE decodes token by token, so for it all ids are decoded in one run with
// the separator's ids after each string, and the output must be the whole
// `.inp` text. SentencePiece decoding drops the dummy-prefix space only at
// the start, so there each string is decoded in its own run.
void expect_vectors(const std::string& vectors,
                    const std::string& tokenizer_relative,
                    std::optional<Joiner> joiner, bool byte_level) {
  const std::string tokenizer =
      quoted(testing::shared_path(tokenizer_relative));
  const auto inputs = read_inputs(vectors);
  const auto outputs = read_outputs(vectors);
  ASSERT_EQ(inputs.size(), kVectorCount);
  ASSERT_EQ(outputs.size(), kVectorCount);

  std::vector<std::vector<int32_t>> encoded;
  if (joiner) {
    std::string joined;
    for (size_t i = 0; i < kVectorCount; ++i) {
      joined += (i == 0 ? "" : joiner->text) + inputs[i];
    }
    encoded = split_ids(encode_run(tokenizer, joined), joiner->id);
  } else {
    for (const std::string& input : inputs) {
      encoded.push_back(encode_run(tokenizer, input));
    }
  }

  std::vector<std::string> decoded;
  if (byte_level) {
    const std::vector<int32_t> separator_ids =
        encode_run(tokenizer, kSeparator);
    std::vector<int32_t> all_ids;
    for (const auto& ids : outputs) {
      all_ids.insert(all_ids.end(), ids.begin(), ids.end());
      all_ids.insert(all_ids.end(), separator_ids.begin(), separator_ids.end());
    }
    decoded = split_strings(decode_run(tokenizer, all_ids));
  } else {
    for (const auto& ids : outputs) {
      decoded.push_back(decode_run(tokenizer, ids));
    }
  }
  ASSERT_EQ(encoded.size(), kVectorCount);
  ASSERT_EQ(decoded.size(), kVectorCount);

  size_t encode_matches = 0;
  size_t decode_matches = 0;
  for (size_t i = 0; i < kVectorCount; ++i) {
    EXPECT_EQ(encoded[i], outputs[i])
        << vectors << " string " << i << ": \"" << inputs[i] << "\"";
    encode_matches += encoded[i] == outputs[i];
    EXPECT_EQ(decoded[i], inputs[i]) << vectors << " string " << i;
    decode_matches += decoded[i] == inputs[i];
  }
  EXPECT_EQ(encode_matches, kVectorCount) << vectors << " encoded";
  EXPECT_EQ(decode_matches, kVectorCount) << vectors << " decoded";
}

TEST(TokenizerCli, Llama3TokenizerJson) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-llama-bpe.gguf.inp");
  expect_vectors("ggml-vocab-llama-bpe.gguf",
                 "tokenizers/llama3/tokenizer.json",
                 Joiner{"<|end_of_text|>", 128001}, /*byte_level=*/true);
}

TEST(TokenizerCli, Qwen3TokenizerJson) {
  OPTIQ_REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-qwen2.gguf.inp");
  expect_vectors("ggml-vocab-qwen2.gguf", "tokenizers/qwen3/tokenizer.json",
                 Joiner{"<|endoftext|>", 151643}, /*byte_level=*/true);
}

TEST(TokenizerCli, Gpt2Gguf) {
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-gpt-2.gguf");
  // <|endoftext|> is a control token in this GGUF, so it is matched as a
  // special added token.
  expect_vectors("ggml-vocab-gpt-2.gguf", kVocabDir + "ggml-vocab-gpt-2.gguf",
                 Joiner{"<|endoftext|>", 50256}, /*byte_level=*/true);
}

TEST(TokenizerCli, LlamaSpmGguf) {
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-llama-spm.gguf");
  // </s> is a control token, and each string between two of them gets its
  // own dummy prefix.
  expect_vectors("ggml-vocab-llama-spm.gguf",
                 kVocabDir + "ggml-vocab-llama-spm.gguf", Joiner{"</s>", 2},
                 /*byte_level=*/false);
}

TEST(TokenizerCli, LlamaSpmSentencePieceModel) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-llama-spm.gguf.inp");
  // libsentencepiece does not match control tokens in the text, so every
  // string gets its own run.
  expect_vectors("ggml-vocab-llama-spm.gguf",
                 "tokenizers/llama2/tokenizer.model", std::nullopt,
                 /*byte_level=*/false);
}

// Ids printed by `optiq tokenize` with BOS handling on (no --no-bos).
std::vector<int32_t> encode_with_bos(const std::string& tokenizer_relative,
                                     const std::string& text) {
  const testing::CommandResult result =
      run_with_input("tokenize --tokenizer " +
                         quoted(testing::shared_path(tokenizer_relative)),
                     text);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return parse_ids(result.out);
}

TEST(TokenizerCli, Llama3AddsBosOnce) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  // "Hello world" is [9906, 1917] in the Llama 3 vocabulary, and
  // <|begin_of_text|> (128000) is an added special token.
  const std::string tokenizer = "tokenizers/llama3/tokenizer.json";
  EXPECT_EQ(encode_with_bos(tokenizer, "Hello world"),
            (std::vector<int32_t>{128000, 9906, 1917}));
  EXPECT_EQ(encode_with_bos(tokenizer, "<|begin_of_text|>Hello world"),
            (std::vector<int32_t>{128000, 9906, 1917}));
}

TEST(TokenizerCli, Qwen3AddsNoBos) {
  OPTIQ_REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  // tokenizer_config.json sets bos_token null and add_bos_token false.
  const std::vector<int32_t> ids =
      encode_with_bos("tokenizers/qwen3/tokenizer.json", "Hello world");
  EXPECT_EQ(ids, (std::vector<int32_t>{9707, 1879}));
}

TEST(TokenizerCli, LlamaSpmGgufAddsBosOnce) {
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-llama-spm.gguf");
  // tokenizer.ggml.add_bos_token is true and <s> (1) is a control token;
  // "Hello" is [15043] with the dummy prefix.
  const std::string tokenizer = kVocabDir + "ggml-vocab-llama-spm.gguf";
  EXPECT_EQ(encode_with_bos(tokenizer, "Hello"),
            (std::vector<int32_t>{1, 15043}));
  EXPECT_EQ(encode_with_bos(tokenizer, "<s>Hello"),
            (std::vector<int32_t>{1, 15043}));
}

TEST(TokenizerCli, Gpt2GgufAddsNoBos) {
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-gpt-2.gguf");
  // The GPT-2 GGUF has no add_bos_token key, and llama.cpp adds no BOS for
  // the "gpt-2" pre-tokenizer. "Hello world" is [15496, 995] in GPT-2.
  EXPECT_EQ(encode_with_bos(kVocabDir + "ggml-vocab-gpt-2.gguf", "Hello world"),
            (std::vector<int32_t>{15496, 995}));
}

TEST(TokenizerCli, MissingTokenizerFails) {
  const testing::CommandResult result =
      run_with_input("tokenize --tokenizer /nonexistent/tokenizer.json", "x");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("/nonexistent/tokenizer.json"), std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace optiq
