// optiq tokenize: text on stdin to token ids, or ids back to text.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>

#include "optiq/cli/commands.h"
#include "optiq/core/error.h"
#include "optiq/tokenizer/tokenizer.h"

namespace optiq::cli {
namespace {

struct TokenizeOptions {
  std::string tokenizer;
  bool no_bos = false;
  bool decode = false;
};

void run_tokenize(const TokenizeOptions& options) {
  std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(options.tokenizer);
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (options.decode) {
    std::vector<int32_t> ids;
    std::istringstream stream(input);
    std::string word;
    while (stream >> word) {
      try {
        size_t used = 0;
        long long id = std::stoll(word, &used);
        if (used != word.size()) throw std::invalid_argument(word);
        if (id < 0 || id >= tokenizer->vocab_size()) {
          fail("token id {} is outside the vocabulary of {}", id, tokenizer->vocab_size());
        }
        ids.push_back(static_cast<int32_t>(id));
      } catch (const std::logic_error&) {
        fail("invalid token id '{}' on stdin: expected integers separated by spaces", word);
      }
    }
    std::string text = tokenizer->decode(ids);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  std::vector<int32_t> ids = tokenizer->encode_for_model(input, !options.no_bos);
  for (size_t i = 0; i < ids.size(); ++i) std::printf(i == 0 ? "%d" : " %d", ids[i]);
  std::printf("\n");
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* command = app.add_subcommand("tokenize", "Print the token ids of UTF-8 text read from stdin");
  command->add_option("--tokenizer", options->tokenizer,
                      "tokenizer.json, SentencePiece .model, llama2.c .bin, GGUF file or model folder")
      ->required();
  command->add_flag("--no-bos", options->no_bos, "Do not add BOS");
  command->add_flag("--decode", options->decode, "Read token ids from stdin and print their text");
  command->callback([options] { run_tokenize(*options); });
}

}  // namespace optiq::cli
