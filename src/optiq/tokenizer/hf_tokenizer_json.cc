// tokenizer.json -> BpeTokenizerSpec. The field names and defaults follow
// the serde definitions of Hugging Face `tokenizers` (read at commit
// 3ba8ad0 of github.com/huggingface/tokenizers).
#include <fmt/format.h>

#include <map>

#include "optiq/core/error.h"
#include "optiq/tokenizer/hf_bpe_tokenizer.h"
#include "optiq/tokenizer/hf_json_reader.h"
#include "optiq/tokenizer/hf_tokenizer.h"

namespace optiq {
namespace {

// A Split/Replace "pattern": {"String": "..."} or {"Regex": "..."}.
void read_pattern(const JsonNode& node, std::string& pattern, bool& is_regex) {
  if (node.value().is_object() && node.value().contains("String")) {
    pattern = node.at("String").as_string();
    is_regex = false;
  } else if (node.value().is_object() && node.value().contains("Regex")) {
    pattern = node.at("Regex").as_string();
    is_regex = true;
  } else {
    node.fail_here("expected {\"String\": ...} or {\"Regex\": ...}");
  }
}

// A string holding exactly one character (Strip's "content").
std::string read_char(const JsonNode& node) {
  std::string text = node.as_string();
  if (text.empty()) node.fail_here("expected one character, got \"\"");
  return text;
}

PrependScheme read_prepend_scheme(const JsonNode& node) {
  const std::string text = node.as_string();
  if (text == "always") return PrependScheme::kAlways;
  if (text == "first") return PrependScheme::kFirst;
  if (text == "never") return PrependScheme::kNever;
  node.fail_here(fmt::format(
      "invalid prepend_scheme \"{}\" (expected always, first or never)", text));
}

// Metaspace's prepend scheme, also from the older "add_prefix_space" field.
PrependScheme read_metaspace_scheme(const JsonNode& node) {
  const JsonNode scheme = node.get("prepend_scheme");
  if (!scheme.is_null()) return read_prepend_scheme(scheme);
  return node.bool_or("add_prefix_space", true) ? PrependScheme::kAlways
                                                : PrependScheme::kNever;
}

SplitBehavior read_behavior(const JsonNode& node) {
  static const std::map<std::string, SplitBehavior> names = {
      {"Removed", SplitBehavior::kRemoved},
      {"Isolated", SplitBehavior::kIsolated},
      {"MergedWithPrevious", SplitBehavior::kMergedWithPrevious},
      {"MergedWithNext", SplitBehavior::kMergedWithNext},
      {"Contiguous", SplitBehavior::kContiguous},
  };
  const std::string text = node.as_string();
  const auto it = names.find(text);
  if (it == names.end()) {
    node.fail_here(fmt::format("unknown split behavior \"{}\"", text));
  }
  return it->second;
}

void read_normalizer(const JsonNode& node, std::vector<NormalizerStep>& out) {
  if (node.is_null()) return;
  const std::string type = node.at("type").as_string();
  NormalizerStep step;
  if (type == "Sequence") {
    const JsonNode list = node.at("normalizers");
    for (size_t i = 0; i < list.array_size(); ++i) {
      read_normalizer(list.at(i), out);
    }
    return;
  } else if (type == "NFC") {
    step.kind = NormalizerStep::Kind::kNfc;
  } else if (type == "Prepend") {
    step.kind = NormalizerStep::Kind::kPrepend;
    step.content = node.at("prepend").as_string();
  } else if (type == "Replace") {
    step.kind = NormalizerStep::Kind::kReplace;
    read_pattern(node.at("pattern"), step.pattern, step.pattern_is_regex);
    step.content = node.at("content").as_string();
  } else {
    node.fail_here(fmt::format(
        "unsupported normalizer type \"{}\" (supported: Sequence, NFC, "
        "Prepend, Replace)",
        type));
  }
  out.push_back(std::move(step));
}

void read_pre_tokenizer(const JsonNode& node,
                        std::vector<PreTokenizerStep>& out) {
  if (node.is_null()) return;
  const std::string type = node.at("type").as_string();
  PreTokenizerStep step;
  if (type == "Sequence") {
    const JsonNode list = node.at("pretokenizers");
    for (size_t i = 0; i < list.array_size(); ++i) {
      read_pre_tokenizer(list.at(i), out);
    }
    return;
  } else if (type == "Split") {
    step.kind = PreTokenizerStep::Kind::kSplit;
    read_pattern(node.at("pattern"), step.pattern, step.pattern_is_regex);
    step.behavior = read_behavior(node.at("behavior"));
    step.invert = node.bool_or("invert", false);
  } else if (type == "ByteLevel") {
    step.kind = PreTokenizerStep::Kind::kByteLevel;
    step.add_prefix_space = node.bool_or("add_prefix_space", true);
    step.use_regex = node.bool_or("use_regex", true);
  } else if (type == "Metaspace") {
    step.kind = PreTokenizerStep::Kind::kMetaspace;
    step.replacement = read_char(node.at("replacement"));
    step.prepend_scheme = read_metaspace_scheme(node);
    step.split = node.bool_or("split", true);
  } else if (type == "Digits") {
    step.kind = PreTokenizerStep::Kind::kDigits;
    step.individual_digits = node.bool_or("individual_digits", false);
  } else {
    node.fail_here(fmt::format(
        "unsupported pre-tokenizer type \"{}\" (supported: Sequence, Split, "
        "ByteLevel, Metaspace, Digits)",
        type));
  }
  out.push_back(std::move(step));
}

void read_decoder(const JsonNode& node, std::vector<DecoderStep>& out) {
  if (node.is_null()) return;
  const std::string type = node.at("type").as_string();
  DecoderStep step;
  if (type == "Sequence") {
    const JsonNode list = node.at("decoders");
    for (size_t i = 0; i < list.array_size(); ++i) {
      read_decoder(list.at(i), out);
    }
    return;
  } else if (type == "ByteLevel") {
    step.kind = DecoderStep::Kind::kByteLevel;
  } else if (type == "Replace") {
    step.kind = DecoderStep::Kind::kReplace;
    bool is_regex = false;
    read_pattern(node.at("pattern"), step.pattern, is_regex);
    if (is_regex)
      node.fail_here("Replace decoders with a Regex pattern are not supported");
    step.content = node.at("content").as_string();
  } else if (type == "ByteFallback") {
    step.kind = DecoderStep::Kind::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = DecoderStep::Kind::kFuse;
  } else if (type == "Strip") {
    step.kind = DecoderStep::Kind::kStrip;
    step.content = read_char(node.at("content"));
    step.start = static_cast<int32_t>(node.at("start").as_int());
    step.stop = static_cast<int32_t>(node.at("stop").as_int());
  } else if (type == "Metaspace") {
    step.kind = DecoderStep::Kind::kMetaspace;
    step.replacement = read_char(node.at("replacement"));
    step.prepend_scheme = read_metaspace_scheme(node);
  } else {
    node.fail_here(fmt::format(
        "unsupported decoder type \"{}\" (supported: Sequence, ByteLevel, "
        "Replace, ByteFallback, Fuse, Strip, Metaspace)",
        type));
  }
  out.push_back(std::move(step));
}

int32_t read_token_id(const JsonNode& node) {
  const int64_t id = node.as_int();
  if (id < 0 || id >= BpeTokenizer::kMaxVocabSize) {
    node.fail_here(fmt::format("invalid token id {} (expected 0 to {})", id,
                               BpeTokenizer::kMaxVocabSize - 1));
  }
  return static_cast<int32_t>(id);
}

void read_vocab(const JsonNode& node, std::vector<std::string>& vocab) {
  if (!node.value().is_object())
    node.fail_here("expected an object of token: id");
  std::vector<std::pair<int32_t, std::string>> entries;
  entries.reserve(node.value().size());
  int32_t max_id = -1;
  for (const auto& [token, id_value] : node.value().items()) {
    const int32_t id = read_token_id(
        JsonNode(id_value, node.file(), node.key() + "." + token));
    max_id = std::max(max_id, id);
    entries.emplace_back(id, token);
  }
  vocab.assign(static_cast<size_t>(max_id + 1), std::string());
  for (auto& [id, token] : entries) {
    if (token.empty()) node.fail_here("the empty string is not a valid token");
    if (!vocab[id].empty()) {
      node.fail_here(fmt::format("id {} is given to both \"{}\" and \"{}\"", id,
                                 vocab[id], token));
    }
    vocab[id] = std::move(token);
  }
}

void read_merges(const JsonNode& node,
                 std::vector<std::pair<std::string, std::string>>& merges) {
  const size_t count = node.array_size();
  merges.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const JsonNode merge = node.at(i);
    if (merge.value().is_string()) {
      // Older files store "left right", which Hugging Face splits at the only
      // space.
      const std::string& text = merge.value().get_ref<const std::string&>();
      const size_t space = text.find(' ');
      if (space == std::string::npos ||
          text.find(' ', space + 1) != std::string::npos) {
        merge.fail_here(fmt::format(
            "expected \"left right\" with exactly one space, got \"{}\"",
            text));
      }
      merges.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else if (merge.value().is_array() && merge.value().size() == 2) {
      merges.emplace_back(merge.at(0).as_string(), merge.at(1).as_string());
    } else {
      merge.fail_here("expected \"left right\" or [left, right]");
    }
  }
}

void read_model(const JsonNode& node, BpeModelSpec& model) {
  // Files written by old versions may omit the type of a BPE model.
  const JsonNode type_node = node.get("type");
  const std::string type =
      type_node.is_null() && node.value().contains("merges")
          ? "BPE"
          : node.at("type").as_string();
  if (type != "BPE") {
    type_node.fail_here(fmt::format(
        "unsupported model type \"{}\" (only BPE is supported)", type));
  }
  read_vocab(node.at("vocab"), model.vocab);
  read_merges(node.at("merges"), model.merges);
  model.unk_token = node.string_or("unk_token", "");
  model.fuse_unk = node.bool_or("fuse_unk", false);
  model.byte_fallback = node.bool_or("byte_fallback", false);
  model.ignore_merges = node.bool_or("ignore_merges", false);
  model.continuing_subword_prefix =
      node.string_or("continuing_subword_prefix", "");
  model.end_of_word_suffix = node.string_or("end_of_word_suffix", "");
}

void read_added_tokens(const JsonNode& node, std::vector<AddedToken>& out) {
  if (node.is_null()) return;
  for (size_t i = 0; i < node.array_size(); ++i) {
    const JsonNode entry = node.at(i);
    AddedToken token;
    token.id = read_token_id(entry.at("id"));
    token.content = entry.at("content").as_string();
    if (token.content.empty())
      entry.at("content").fail_here("content is empty");
    token.special = entry.bool_or("special", false);
    token.lstrip = entry.bool_or("lstrip", false);
    token.rstrip = entry.bool_or("rstrip", false);
    token.single_word = entry.bool_or("single_word", false);
    token.normalized = entry.bool_or("normalized", !token.special);
    out.push_back(std::move(token));
  }
}

void read_post_processor(const JsonNode& node, PostProcessorBos& bos) {
  if (node.is_null()) return;
  const std::string type = node.at("type").as_string();
  if (type == "Sequence") {
    const JsonNode list = node.at("processors");
    for (size_t i = 0; i < list.array_size(); ++i) {
      read_post_processor(list.at(i), bos);
    }
  } else if (type == "TemplateProcessing") {
    bos.has_template = true;
    const JsonNode single = node.at("single");
    bos.adds_bos = false;
    if (single.array_size() > 0) {
      const JsonNode first = single.at(0).get("SpecialToken");
      if (!first.is_null()) {
        bos.adds_bos = true;
        bos.bos_token = first.at("id").as_string();
        const JsonNode special = node.get("special_tokens").get(bos.bos_token);
        if (!special.is_null() && special.at("ids").array_size() > 0) {
          bos.bos_id = read_token_id(special.at("ids").at(0));
        }
      }
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    // "cls": [token, id] starts every sequence.
    const JsonNode cls = node.at("cls");
    if (cls.array_size() != 2) cls.fail_here("expected [token, id]");
    bos.has_template = true;
    bos.adds_bos = true;
    bos.bos_token = cls.at(0).as_string();
    bos.bos_id = read_token_id(cls.at(1));
  }
  // ByteLevel only adjusts offsets and adds no tokens.
}

}  // namespace

HfTokenizerJson read_hf_tokenizer_json(const std::filesystem::path& path) {
  const nlohmann::json document = JsonNode::parse_file(path);
  const std::string file = path.string();
  const JsonNode root(document, file, "");
  if (!document.is_object()) {
    fail("{}: expected a JSON object at the top level", file);
  }

  HfTokenizerJson result;
  read_model(root.at("model"), result.spec.model);
  read_added_tokens(root.get("added_tokens"), result.spec.added_tokens);
  read_normalizer(root.get("normalizer"), result.spec.normalizers);
  read_pre_tokenizer(root.get("pre_tokenizer"), result.spec.pre_tokenizers);
  read_decoder(root.get("decoder"), result.spec.decoders);
  read_post_processor(root.get("post_processor"), result.post_processor);
  return result;
}

}  // namespace optiq
