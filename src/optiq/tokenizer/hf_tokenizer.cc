#include "optiq/tokenizer/hf_tokenizer.h"

#include <fmt/format.h>

#include "optiq/core/error.h"
#include "optiq/tokenizer/hf_bpe_tokenizer.h"
#include "optiq/tokenizer/hf_json_reader.h"

namespace optiq {
namespace {

// Special-token settings of tokenizer_config.json.
struct TokenizerConfig {
  std::optional<bool> add_bos;
  // Unset: the key is missing; "" : the key is null (no such token).
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
};

// A special token in tokenizer_config.json: a string, an object with
// "content" (a serialized AddedToken), or null.
std::optional<std::string> read_special_token(const JsonNode& config,
                                              std::string_view name) {
  if (!config.value().contains(name)) return std::nullopt;
  const JsonNode node = config.get(name);
  if (node.is_null()) return std::string();
  if (node.value().is_object()) return node.at("content").as_string();
  return node.as_string();
}

TokenizerConfig read_config(const std::filesystem::path& path) {
  const nlohmann::json document = JsonNode::parse_file(path);
  const std::string file = path.string();
  if (!document.is_object()) {
    fail("{}: expected a JSON object at the top level", file);
  }
  const JsonNode root(document, file, "");
  TokenizerConfig config;
  const JsonNode add_bos = root.get("add_bos_token");
  if (!add_bos.is_null()) config.add_bos = add_bos.as_bool();
  config.bos_token = read_special_token(root, "bos_token");
  config.eos_token = read_special_token(root, "eos_token");
  return config;
}

int32_t resolve_token(const BpeTokenizer& tokenizer, const std::string& token,
                      const std::string& file, std::string_view key) {
  if (token.empty()) return -1;
  const int32_t id = tokenizer.token_id(token);
  if (id < 0) {
    fail("{}: key \"{}\": token \"{}\" is not in the vocabulary", file, key,
         token);
  }
  return id;
}

}  // namespace

std::unique_ptr<Tokenizer> load_hf_tokenizer(
    const std::filesystem::path& tokenizer_json,
    const std::filesystem::path* tokenizer_config_json) {
  const HfTokenizerJson parsed = read_hf_tokenizer_json(tokenizer_json);
  auto tokenizer =
      std::make_unique<BpeTokenizer>(parsed.spec, tokenizer_json.string());

  const PostProcessorBos& template_bos = parsed.post_processor;
  int32_t bos_id = -1;
  if (template_bos.adds_bos) {
    bos_id = template_bos.bos_id >= 0
                 ? template_bos.bos_id
                 : resolve_token(*tokenizer, template_bos.bos_token,
                                 tokenizer_json.string(),
                                 "post_processor.single[0].SpecialToken.id");
  }
  int32_t eos_id = -1;
  std::optional<bool> add_bos;
  if (tokenizer_config_json != nullptr) {
    const TokenizerConfig config = read_config(*tokenizer_config_json);
    const std::string file = tokenizer_config_json->string();
    if (config.bos_token) {
      bos_id = resolve_token(*tokenizer, *config.bos_token, file, "bos_token");
    }
    if (config.eos_token) {
      eos_id = resolve_token(*tokenizer, *config.eos_token, file, "eos_token");
    }
    add_bos = config.add_bos;
  }
  if (!add_bos && template_bos.has_template) add_bos = template_bos.adds_bos;

  tokenizer->set_bos_id(bos_id);
  tokenizer->set_eos_id(eos_id);
  tokenizer->set_add_bos(add_bos.value_or(bos_id >= 0) && bos_id >= 0);
  return tokenizer;
}

}  // namespace optiq
