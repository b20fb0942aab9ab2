// BpeTokenizer built from the vocabulary of a GGUF file (tokens, merges or
// scores), as a GGUF model's tokenizer is, against llama.cpp's test vectors
// for the same vocabulary.
#include <gtest/gtest.h>

#include <sstream>

#include "optiq/io/gguf_file.h"
#include "optiq/tokenizer/hf_bpe_tokenizer.h"
#include "optiq/tokenizer/hf_sentencepiece.h"
#include "test_support.h"

namespace optiq {
namespace {

const std::string kVocabDir = "tokenizers/llama.cpp-vocab/";

std::vector<std::string> read_inputs(const std::string& name) {
  const std::string text =
      testing::read_text(testing::shared_path(kVocabDir + name + ".inp"));
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

std::vector<std::vector<int32_t>> read_outputs(const std::string& name) {
  std::istringstream lines(
      testing::read_text(testing::shared_path(kVocabDir + name + ".out")));
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

void expect_vectors(const Tokenizer& tokenizer, const std::string& name) {
  const auto inputs = read_inputs(name);
  const auto outputs = read_outputs(name);
  ASSERT_EQ(inputs.size(), 46u);
  ASSERT_EQ(outputs.size(), 46u);
  size_t passed = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int32_t> ids = tokenizer.encode(inputs[i]);
    EXPECT_EQ(ids, outputs[i]) << name << " string " << i;
    passed += ids == outputs[i];
    EXPECT_EQ(tokenizer.decode(ids), inputs[i]) << name << " string " << i;
  }
  EXPECT_EQ(passed, 46u);
}

// GGUF token types (llama.cpp's llama_token_type).
constexpr int64_t kNormal = 1;
constexpr int64_t kControl = 3;

TEST(TokenizerHfGguf, Gpt2FromTokensAndMerges) {
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-gpt-2.gguf");
  const GgufFile gguf(
      testing::shared_path(kVocabDir + "ggml-vocab-gpt-2.gguf"));
  BpeTokenizerSpec spec;
  spec.model.vocab = gguf.at("tokenizer.ggml.tokens").as_string_array();
  for (const std::string& merge :
       gguf.at("tokenizer.ggml.merges").as_string_array()) {
    const size_t space = merge.find(' ');
    ASSERT_NE(space, std::string::npos) << merge;
    spec.model.merges.emplace_back(merge.substr(0, space),
                                   merge.substr(space + 1));
  }
  spec.pre_tokenizers = gpt2_byte_level();
  DecoderStep byte_level;
  byte_level.kind = DecoderStep::Kind::kByteLevel;
  spec.decoders = {byte_level};
  const BpeTokenizer tokenizer(spec, "ggml-vocab-gpt-2.gguf");
  EXPECT_EQ(tokenizer.vocab_size(), 50257);
  expect_vectors(tokenizer, "ggml-vocab-gpt-2.gguf");
}

TEST(TokenizerHfGguf, LlamaSpmFromScores) {
  OPTIQ_REQUIRE_SHARED(kVocabDir + "ggml-vocab-llama-spm.gguf");
  const GgufFile gguf(
      testing::shared_path(kVocabDir + "ggml-vocab-llama-spm.gguf"));
  BpeTokenizerSpec spec;
  spec.model.vocab = gguf.at("tokenizer.ggml.tokens").as_string_array();
  const std::vector<float> scores =
      gguf.at("tokenizer.ggml.scores").as_float_array();
  const std::vector<int64_t> types =
      gguf.at("tokenizer.ggml.token_type").as_int_array();
  ASSERT_EQ(scores.size(), spec.model.vocab.size());
  ASSERT_EQ(types.size(), spec.model.vocab.size());
  std::vector<bool> mergeable;
  for (size_t id = 0; id < types.size(); ++id) {
    mergeable.push_back(types[id] == kNormal);
    if (types[id] == kControl) {
      spec.added_tokens.push_back(
          {static_cast<int32_t>(id), spec.model.vocab[id], true});
    }
  }
  spec.model.merges = merges_from_scores(spec.model.vocab, scores, mergeable);
  spec.model.unk_token =
      spec.model.vocab[gguf.at("tokenizer.ggml.unknown_token_id").as_int64()];
  use_sentencepiece_steps(spec);
  const BpeTokenizer tokenizer(spec, "ggml-vocab-llama-spm.gguf");
  expect_vectors(tokenizer, "ggml-vocab-llama-spm.gguf");
}

}  // namespace
}  // namespace optiq
