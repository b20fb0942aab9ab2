// Loading tokenizer.json / tokenizer_config.json: special-token settings,
// added tokens in text, and errors for malformed files.
#include <gtest/gtest.h>

#include <fstream>

#include "optiq/core/error.h"
#include "optiq/tokenizer/hf_tokenizer.h"
#include "test_support.h"

namespace optiq {
namespace {

std::filesystem::path write_file(const testing::ScratchDir& dir,
                                 const std::string& name,
                                 const std::string& text) {
  const std::filesystem::path path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// A minimal byte-level BPE: "a" + "b" -> "ab", with <s> and </s> as special
// added tokens. `extra` is spliced in as further top-level members.
std::string tiny_tokenizer_json(const std::string& extra = "") {
  return R"({
    "added_tokens": [
      {"id": 3, "content": "<s>", "special": true},
      {"id": 4, "content": "</s>", "special": true}
    ],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
              "merges": ["a b"]})" +
         extra + "}";
}

// Expects loading `json` to throw optiq::Error whose message contains the
// file path and every string of `fragments`.
void expect_load_error(const std::string& json,
                       const std::vector<std::string>& fragments) {
  testing::ScratchDir dir;
  const auto path = write_file(dir, "tokenizer.json", json);
  try {
    load_hf_tokenizer(path, nullptr);
    ADD_FAILURE() << "no error for " << json;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    for (const std::string& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "missing \"" << fragment << "\" in: " << message;
    }
  }
}

TEST(TokenizerHfLoad, Llama3SpecialTokens) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  const auto config =
      testing::shared_path("tokenizers/llama3/tokenizer_config.json");
  const auto tokenizer = load_hf_tokenizer(
      testing::shared_path("tokenizers/llama3/tokenizer.json"), &config);
  EXPECT_EQ(tokenizer->bos_id(), 128000);
  EXPECT_EQ(tokenizer->eos_id(), 128001);
  // No add_bos_token and no template: BOS is added because one exists.
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->vocab_size(), 128256);

  // Special tokens in text map to their ids and decode to nothing.
  const std::vector<int32_t> ids = tokenizer->encode(
      "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>");
  EXPECT_EQ(ids,
            (std::vector<int32_t>{128006, 882, 128007, 271, 9906, 128009}));
  EXPECT_EQ(tokenizer->decode(ids), "user\n\nHello");
}

TEST(TokenizerHfLoad, Qwen3SpecialTokens) {
  OPTIQ_REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  const auto config =
      testing::shared_path("tokenizers/qwen3/tokenizer_config.json");
  const auto tokenizer = load_hf_tokenizer(
      testing::shared_path("tokenizers/qwen3/tokenizer.json"), &config);
  EXPECT_EQ(tokenizer->bos_id(), -1);
  EXPECT_EQ(tokenizer->eos_id(), 151645);
  EXPECT_FALSE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->vocab_size(), 151669);
  const std::vector<int32_t> ids =
      tokenizer->encode("<|im_start|>user\nHi<|im_end|>");
  EXPECT_EQ(ids, (std::vector<int32_t>{151644, 872, 198, 13048, 151645}));
  EXPECT_EQ(tokenizer->decode(ids), "user\nHi");
  // <think> is a non-special added token, so decode() keeps its text.
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("<think>x</think>")),
            "<think>x</think>");
}

TEST(TokenizerHfLoad, NoConfigLeavesEosUnset) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  const auto tokenizer = load_hf_tokenizer(
      testing::shared_path("tokenizers/llama3/tokenizer.json"), nullptr);
  EXPECT_EQ(tokenizer->bos_id(), -1);
  EXPECT_EQ(tokenizer->eos_id(), -1);
  EXPECT_FALSE(tokenizer->add_bos());
}

TEST(TokenizerHfLoad, TemplateProcessingAddsBos) {
  testing::ScratchDir dir;
  const auto path = write_file(dir, "tokenizer.json", tiny_tokenizer_json(R"(,
    "post_processor": {"type": "Sequence", "processors": [
      {"type": "ByteLevel"},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                  {"Sequence": {"id": "A", "type_id": 0}}],
       "pair": [],
       "special_tokens": {"<s>": {"id": "<s>", "ids": [3], "tokens": ["<s>"]}}}
    ]})"));
  const auto tokenizer = load_hf_tokenizer(path, nullptr);
  EXPECT_EQ(tokenizer->bos_id(), 3);
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->encode("<s>abab"), (std::vector<int32_t>{3, 2, 2}));
  EXPECT_EQ(tokenizer->decode(std::vector<int32_t>{3, 2, 0, 4}), "aba");
}

TEST(TokenizerHfLoad, TemplateWithoutBos) {
  testing::ScratchDir dir;
  const auto path = write_file(dir, "tokenizer.json", tiny_tokenizer_json(R"(,
    "post_processor": {"type": "TemplateProcessing",
       "single": [{"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "</s>", "type_id": 0}}],
       "special_tokens": {}})"));
  const auto config =
      write_file(dir, "tokenizer_config.json",
                 R"({"bos_token": "<s>", "eos_token": "</s>"})");
  const auto tokenizer = load_hf_tokenizer(path, &config);
  EXPECT_EQ(tokenizer->bos_id(), 3);
  EXPECT_EQ(tokenizer->eos_id(), 4);
  EXPECT_FALSE(tokenizer->add_bos());
}

TEST(TokenizerHfLoad, ConfigTokenObjectsAndAddBos) {
  testing::ScratchDir dir;
  const auto path = write_file(dir, "tokenizer.json", tiny_tokenizer_json());
  const auto config = write_file(dir, "tokenizer_config.json", R"({
    "add_bos_token": false,
    "bos_token": {"__type": "AddedToken", "content": "<s>", "special": true},
    "eos_token": {"__type": "AddedToken", "content": "</s>", "special": true}
  })");
  const auto tokenizer = load_hf_tokenizer(path, &config);
  EXPECT_EQ(tokenizer->bos_id(), 3);
  EXPECT_EQ(tokenizer->eos_id(), 4);
  EXPECT_FALSE(tokenizer->add_bos());
}

TEST(TokenizerHfLoad, ConfigUnknownBosIsError) {
  testing::ScratchDir dir;
  const auto path = write_file(dir, "tokenizer.json", tiny_tokenizer_json());
  const auto config =
      write_file(dir, "tokenizer_config.json", R"({"bos_token": "<|nope|>"})");
  try {
    load_hf_tokenizer(path, &config);
    ADD_FAILURE() << "no error for an unknown bos_token";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(config.string()), std::string::npos) << message;
    EXPECT_NE(message.find("bos_token"), std::string::npos) << message;
    EXPECT_NE(message.find("<|nope|>"), std::string::npos) << message;
  }
}

// A SentencePiece-style vocabulary as Llama 2 and Mistral tokenizer.json
// files store it: "▁" for spaces, byte fallback, the unknown token fused.
std::string spm_tokenizer_json(const std::string& steps) {
  return R"({
    "added_tokens": [
      {"id": 0, "content": "<unk>", "special": true},
      {"id": 1, "content": "<s>", "special": true}
    ],)" +
         steps + R"(,
    "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true,
              "byte_fallback": true,
              "vocab": {"<unk>": 0, "<s>": 1, "<0x21>": 2, "▁": 3, "h": 4,
                        "i": 5, "hi": 6, "▁hi": 7},
              "merges": [["h", "i"], ["▁", "hi"]]}})";
}

TEST(TokenizerHfLoad, SentencePieceNormalizerJson) {
  testing::ScratchDir dir;
  const auto path = write_file(dir, "tokenizer.json", spm_tokenizer_json(R"(
    "normalizer": {"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "▁"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": null,
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"},
      {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})"));
  const auto tokenizer = load_hf_tokenizer(path, nullptr);
  // '!' (0x21) falls back to <0x21>; "??" has no byte token and becomes
  // one fused <unk>.
  EXPECT_EQ(tokenizer->encode("hi hi!"), (std::vector<int32_t>{7, 7, 2}));
  EXPECT_EQ(tokenizer->encode("hi??"), (std::vector<int32_t>{7, 0}));
  EXPECT_EQ(tokenizer->decode(std::vector<int32_t>{1, 7, 7, 2}), "hi hi!");
}

TEST(TokenizerHfLoad, MetaspacePreTokenizerJson) {
  testing::ScratchDir dir;
  const auto path = write_file(dir, "tokenizer.json", spm_tokenizer_json(R"(
    "pre_tokenizer": {"type": "Metaspace", "replacement": "▁",
                      "prepend_scheme": "first", "split": false},
    "decoder": {"type": "Metaspace", "replacement": "▁",
                "prepend_scheme": "first", "split": false})"));
  const auto tokenizer = load_hf_tokenizer(path, nullptr);
  EXPECT_EQ(tokenizer->encode("hi hi"), (std::vector<int32_t>{7, 7}));
  // "first": the segment after an added token gets no "▁".
  EXPECT_EQ(tokenizer->encode("hi<s>hi"), (std::vector<int32_t>{7, 1, 6}));
  EXPECT_EQ(tokenizer->decode(std::vector<int32_t>{7, 7}), "hi hi");
}

TEST(TokenizerHfLoad, NotJsonIsError) {
  expect_load_error("{\"model\": ", {"invalid JSON"});
}

TEST(TokenizerHfLoad, MissingFileIsError) {
  testing::ScratchDir dir;
  const auto path = dir / "missing.json";
  try {
    load_hf_tokenizer(path, nullptr);
    ADD_FAILURE() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
  }
}

TEST(TokenizerHfLoad, MissingModelIsError) {
  expect_load_error(R"({"added_tokens": []})", {"\"model\"", "missing"});
}

TEST(TokenizerHfLoad, UnigramModelIsError) {
  expect_load_error(
      R"({"model": {"type": "Unigram", "unk_id": 0, "vocab": [["a", 0.0]]}})",
      {"model.type", "Unigram"});
}

TEST(TokenizerHfLoad, WordPieceModelIsError) {
  expect_load_error(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})",
                    {"model.type", "WordPiece"});
}

TEST(TokenizerHfLoad, MergeWithUnknownTokenIsError) {
  expect_load_error(
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
                    "merges": ["a b", "a c"]}})",
      {"merges[1]", "\"c\""});
}

TEST(TokenizerHfLoad, MergeWithUnknownResultIsError) {
  expect_load_error(
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1},
                    "merges": [["a", "b"]]}})",
      {"merges[0]", "\"ab\""});
}

TEST(TokenizerHfLoad, MalformedMergeIsError) {
  expect_load_error(
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}})",
      {"model.merges[0]"});
}

TEST(TokenizerHfLoad, NegativeTokenIdIsError) {
  expect_load_error(
      R"({"model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}})",
      {"model.vocab.a", "-1"});
}

TEST(TokenizerHfLoad, UnsupportedPreTokenizerIsError) {
  expect_load_error(
      R"({"pre_tokenizer": {"type": "BertPreTokenizer"},
          "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})",
      {"pre_tokenizer", "BertPreTokenizer"});
}

TEST(TokenizerHfLoad, InvalidRegexIsError) {
  expect_load_error(
      R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(a"},
                            "behavior": "Isolated", "invert": false},
          "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})",
      {"(a"});
}

}  // namespace
}  // namespace optiq
