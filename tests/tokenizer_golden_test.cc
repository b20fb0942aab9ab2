// optiq's tokenizer.json encoding against Hugging Face's own `tokenizers`
// library (the npm package tokenizers@0.23.2, Node bindings of the Rust
// crate) on lines of WikiText-2. The package is installed into a scratch
// folder at test time; without npm or the registry the test is skipped.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "optiq/tokenizer/tokenizer.h"
#include "test_support.h"

namespace optiq {
namespace {

constexpr const char* kPackage = "tokenizers@0.23.2";
constexpr const char* kWikitext = "data/wikitext-2-raw/wiki.test.raw";
constexpr size_t kLineCount = 400;

// Encodes every line of lines.json with add_special_tokens=false and writes
// the ids and the decoded text (skip_special_tokens=true) as JSON.
constexpr const char* kEncodeScript = R"(
const fs = require('fs');
const { Tokenizer } = require('tokenizers');
const [tokenizerPath, linesPath, outPath] = process.argv.slice(2);
(async () => {
  const tokenizer = Tokenizer.fromFile(tokenizerPath);
  const lines = JSON.parse(fs.readFileSync(linesPath, 'utf8'));
  const ids = [];
  const texts = [];
  for (const line of lines) {
    const encoding = await tokenizer.encode(line, null,
                                            { addSpecialTokens: false });
    ids.push(encoding.getIds());
    texts.push(await tokenizer.decode(encoding.getIds(), true));
  }
  fs.writeFileSync(outPath, JSON.stringify({ ids, texts }));
})().catch((error) => { console.error(error); process.exit(1); });
)";

// A scratch folder with the npm package installed, shared by the tests.
class HfTokenizersGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new testing::ScratchDir();
    const std::string log = (*scratch_ / "npm.log").string();
    if (std::system("command -v npm > /dev/null 2>&1 && "
                    "command -v node > /dev/null 2>&1") != 0) {
      skip_reason_ = "npm or node is not installed";
      return;
    }
    const std::string install =
        "npm install --no-audit --no-fund --fetch-timeout=60000 "
        "--fetch-retries=1 --prefix '" +
        scratch_->path().string() + "' " + kPackage + " > '" + log + "' 2>&1";
    if (std::system(install.c_str()) != 0) {
      skip_reason_ = std::string("npm install ") + kPackage +
                     " failed (registry unreachable?); npm output:\n" +
                     testing::read_text(log);
      return;
    }
    std::ofstream(*scratch_ / "encode.js") << kEncodeScript;
  }

  static void TearDownTestSuite() {
    delete scratch_;
    scratch_ = nullptr;
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
  }

  static testing::ScratchDir* scratch_;
  static std::string skip_reason_;
};

testing::ScratchDir* HfTokenizersGolden::scratch_ = nullptr;
std::string HfTokenizersGolden::skip_reason_;

// The first kLineCount non-empty lines of WikiText-2, each with its "\n".
std::vector<std::string> wikitext_lines() {
  std::istringstream text(testing::read_text(testing::shared_path(kWikitext)));
  std::vector<std::string> lines;
  std::string line;
  while (lines.size() < kLineCount && std::getline(text, line)) {
    if (line.find_first_not_of(' ') != std::string::npos) {
      lines.push_back(line + "\n");
    }
  }
  return lines;
}

void expect_same_as_hugging_face(const testing::ScratchDir& scratch,
                                 const std::string& tokenizer_relative) {
  const std::filesystem::path tokenizer_json =
      testing::shared_path(tokenizer_relative);
  const std::vector<std::string> lines = wikitext_lines();
  ASSERT_EQ(lines.size(), kLineCount);
  std::ofstream(scratch / "lines.json") << nlohmann::json(lines).dump();

  const std::filesystem::path golden = scratch / "golden.json";
  const std::string command = "cd '" + scratch.path().string() +
                              "' && node encode.js '" +
                              tokenizer_json.string() + "' lines.json '" +
                              golden.string() + "' 2> node.log";
  ASSERT_EQ(std::system(command.c_str()), 0)
      << testing::read_text(scratch / "node.log");
  const nlohmann::json expected =
      nlohmann::json::parse(testing::read_text(golden));
  ASSERT_EQ(expected.at("ids").size(), lines.size());

  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(tokenizer_json);
  size_t matched = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::vector<int32_t> ids = tokenizer->encode(lines[i]);
    const auto hf_ids = expected["ids"][i].get<std::vector<int32_t>>();
    EXPECT_FALSE(hf_ids.empty()) << "line " << i;
    EXPECT_EQ(ids, hf_ids) << "line " << i << ": " << lines[i];
    matched += ids == hf_ids;
    EXPECT_EQ(tokenizer->decode(hf_ids),
              expected["texts"][i].get<std::string>())
        << "line " << i;
  }
  EXPECT_EQ(matched, lines.size());
}

TEST_F(HfTokenizersGolden, Llama3Wikitext) {
  OPTIQ_REQUIRE_SHARED("tokenizers/llama3/tokenizer.json");
  OPTIQ_REQUIRE_SHARED(kWikitext);
  expect_same_as_hugging_face(*scratch_, "tokenizers/llama3/tokenizer.json");
}

TEST_F(HfTokenizersGolden, Qwen3Wikitext) {
  OPTIQ_REQUIRE_SHARED("tokenizers/qwen3/tokenizer.json");
  OPTIQ_REQUIRE_SHARED(kWikitext);
  expect_same_as_hugging_face(*scratch_, "tokenizers/qwen3/tokenizer.json");
}

}  // namespace
}  // namespace optiq
