#include "optiq/cli/model_loading.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

#include "optiq/core/error.h"

namespace fs = std::filesystem;

namespace optiq::cli {
std::string read_text_file(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) fail("cannot open '{}'", path.string());
  std::ostringstream buffer;
  buffer << stream.rdbuf();
  return buffer.str();
}

std::unique_ptr<Tokenizer> load_model_tokenizer(const fs::path& model_path,
                                                const std::string& tokenizer_path) {
  std::error_code ec;
  const bool is_folder = fs::is_directory(model_path, ec);
  std::unique_ptr<Tokenizer> tokenizer;
  if (!tokenizer_path.empty()) {
    tokenizer = load_tokenizer(tokenizer_path);
  } else if (is_folder || is_gguf_file(model_path)) {
    // A model folder contains tokenizer.json, tokenizer.model or
    // tokenizer.bin. A GGUF file stores its tokenizer in tokenizer.ggml.*.
    tokenizer = load_tokenizer(model_path);
  } else {
    fail("{}: a llama2.c checkpoint has no tokenizer; pass --tokenizer", model_path.string());
  }
  if (is_folder) {
    fs::path tokenizer_config = model_path / "tokenizer_config.json";
    if (fs::exists(tokenizer_config, ec)) {
      std::ifstream stream(tokenizer_config);
      auto root = nlohmann::json::parse(stream, nullptr, /*allow_exceptions=*/false);
      if (root.is_object() && root.contains("add_bos_token") && root["add_bos_token"].is_boolean()) {
        tokenizer->set_add_bos(root["add_bos_token"].get<bool>());
      }
    }
  }
  return tokenizer;
}

LoadedModel load_model_and_tokenizer(const fs::path& path, const std::string& tokenizer_path) {
  LoadedModel loaded;
  loaded.model = load_model(path);
  loaded.tokenizer = load_model_tokenizer(path, tokenizer_path);
  if (loaded.tokenizer->vocab_size() > loaded.model.config.vocab) {
    fail("tokenizer has {} tokens but the model's vocabulary has {}", loaded.tokenizer->vocab_size(),
         loaded.model.config.vocab);
  }
  return loaded;
}

}  // namespace optiq::cli
