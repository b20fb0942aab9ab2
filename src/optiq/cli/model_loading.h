// Opening a model and its tokenizer the same way in every subcommand.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "optiq/model/model.h"
#include "optiq/tokenizer/tokenizer.h"

namespace optiq::cli {

struct LoadedModel {
  Model model;
  std::unique_ptr<Tokenizer> tokenizer;
};

// Loads the model at `path` and a tokenizer: `tokenizer_path` when given,
// else the one in the model folder (llama2.c checkpoints need one given).
// BOS/EOS ids and whether to add BOS follow the model folder's
// tokenizer_config.json and config.json where present.
LoadedModel load_model_and_tokenizer(const std::filesystem::path& path,
                                     const std::string& tokenizer_path);

// Loads only the tokenizer, with the same rules.
std::unique_ptr<Tokenizer> load_model_tokenizer(const std::filesystem::path& model_path,
                                                const std::string& tokenizer_path);

std::string read_text_file(const std::filesystem::path& path);

}  // namespace optiq::cli
