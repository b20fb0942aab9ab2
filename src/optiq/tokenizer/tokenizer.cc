#include "optiq/tokenizer/tokenizer.h"

#include <spdlog/spdlog.h>

#include <fstream>

#include "optiq/core/error.h"
#include "optiq/tokenizer/gguf_tokenizer.h"
#include "optiq/tokenizer/hf_tokenizer.h"
#include "optiq/tokenizer/llama2c_tokenizer.h"
#include "optiq/tokenizer/sentencepiece_tokenizer.h"

namespace fs = std::filesystem;

namespace optiq {

std::vector<int32_t> Tokenizer::encode_for_model(std::string_view text,
                                                 bool with_bos) const {
  std::vector<int32_t> ids = encode(text);
  if (with_bos && add_bos_ && bos_id_ >= 0) {
    if (!ids.empty() && ids.front() == bos_id_) {
      spdlog::info("text already starts with BOS; not adding another");
    } else {
      ids.insert(ids.begin(), bos_id_);
    }
  }
  return ids;
}

namespace {

std::string read_magic(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  char magic[4] = {};
  stream.read(magic, 4);
  return std::string(magic, static_cast<size_t>(stream.gcount()));
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // tokenizer.json carries the added tokens and pre-tokenizer that a
    // SentencePiece .model of the same model may lack, so it comes first.
    for (const char* name :
         {"tokenizer.json", "tokenizer.model", "tokenizer.bin"}) {
      if (fs::exists(path / name, ec)) return load_tokenizer(path / name);
    }
    fail("{}: no tokenizer.json, tokenizer.model or tokenizer.bin found",
         path.string());
  }
  if (!fs::exists(path, ec)) fail("tokenizer '{}' not found", path.string());
  // The magic comes first: GGUF files may carry any extension.
  if (read_magic(path) == "GGUF") return load_gguf_tokenizer(path);
  const std::string extension = path.extension().string();
  if (extension == ".json") {
    const fs::path config = path.parent_path() / "tokenizer_config.json";
    const bool has_config = path.filename() != "tokenizer_config.json" &&
                            fs::is_regular_file(config, ec);
    return load_hf_tokenizer(path, has_config ? &config : nullptr);
  }
  if (extension == ".bin") return std::make_unique<Llama2cTokenizer>(path);
  if (extension == ".model") {
    return std::make_unique<SentencePieceTokenizer>(path);
  }
  fail(
      "{}: unknown tokenizer kind: expected a llama2.c .bin, a "
      "SentencePiece .model, a tokenizer.json, a GGUF file or a model folder",
      path.string());
}

}  // namespace optiq
