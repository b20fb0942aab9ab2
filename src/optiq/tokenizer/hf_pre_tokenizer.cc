#include "optiq/tokenizer/hf_pre_tokenizer.h"

#include <fmt/format.h>

#include "optiq/core/error.h"
#include "optiq/tokenizer/hf_byte_level.h"
#include "optiq/tokenizer/hf_unicode_nfc.h"

namespace optiq {
namespace {

struct Span {
  size_t start;
  size_t end;
  bool is_match;
};

// Covers `text` with matches and the gaps between them, in order.
std::vector<Span> find_spans(std::string_view text, const Regex* regex,
                             std::string_view literal) {
  std::vector<Span> spans;
  size_t previous_end = 0;
  const auto on_match = [&](size_t start, size_t end) {
    if (start > previous_end) spans.push_back({previous_end, start, false});
    spans.push_back({start, end, true});
    previous_end = end;
  };
  if (regex != nullptr) {
    regex->for_each_match(text, on_match);
  } else if (!literal.empty()) {
    for (size_t pos = text.find(literal); pos != std::string_view::npos;
         pos = text.find(literal, pos + literal.size())) {
      on_match(pos, pos + literal.size());
    }
  }
  if (previous_end < text.size()) {
    spans.push_back({previous_end, text.size(), false});
  }
  return spans;
}

std::string replace_all(std::string_view text, std::string_view from,
                        std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (size_t hit = text.find(from); hit != std::string_view::npos;
       hit = text.find(from, pos)) {
    out.append(text, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(text, pos);
  return out;
}

}  // namespace

void split_by_behavior(std::string_view text, const Regex* regex,
                       std::string_view literal, SplitBehavior behavior,
                       bool invert,
                       std::vector<std::pair<size_t, size_t>>& ranges) {
  std::vector<Span> spans = find_spans(text, regex, literal);
  if (invert) {
    for (Span& span : spans) span.is_match = !span.is_match;
  }
  const size_t first = ranges.size();
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const Span& span : spans) {
        if (!span.is_match) ranges.emplace_back(span.start, span.end);
      }
      break;
    case SplitBehavior::kIsolated:
      for (const Span& span : spans) ranges.emplace_back(span.start, span.end);
      break;
    case SplitBehavior::kContiguous:
      for (size_t i = 0; i < spans.size(); ++i) {
        if (i > 0 && spans[i].is_match == previous_match) {
          ranges.back().second = spans[i].end;
        } else {
          ranges.emplace_back(spans[i].start, spans[i].end);
        }
        previous_match = spans[i].is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& span : spans) {
        if (span.is_match && !previous_match && ranges.size() > first) {
          ranges.back().second = span.end;
        } else {
          ranges.emplace_back(span.start, span.end);
        }
        previous_match = span.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext: {
      // Mirror image of kMergedWithPrevious: walk right to left, then
      // restore the order.
      std::vector<std::pair<size_t, size_t>> reversed;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !reversed.empty()) {
          reversed.back().first = it->start;
        } else {
          reversed.emplace_back(it->start, it->end);
        }
        previous_match = it->is_match;
      }
      ranges.insert(ranges.end(), reversed.rbegin(), reversed.rend());
      break;
    }
  }
}

Normalizer::Normalizer(const std::vector<NormalizerStep>& steps,
                       std::string_view source) {
  for (const NormalizerStep& spec : steps) {
    Step step{spec, nullptr};
    if (spec.kind == NormalizerStep::Kind::kReplace && spec.pattern_is_regex) {
      step.regex = std::make_unique<Regex>(spec.pattern, source);
    }
    steps_.push_back(std::move(step));
  }
}

std::string Normalizer::normalize(std::string_view text) const {
  std::string current(text);
  for (const Step& step : steps_) {
    switch (step.spec.kind) {
      case NormalizerStep::Kind::kNfc:
        current = to_nfc(current);
        break;
      case NormalizerStep::Kind::kPrepend:
        if (!current.empty()) current.insert(0, step.spec.content);
        break;
      case NormalizerStep::Kind::kReplace:
        if (step.regex == nullptr) {
          current = replace_all(current, step.spec.pattern, step.spec.content);
        } else {
          std::string out;
          size_t previous_end = 0;
          step.regex->for_each_match(current, [&](size_t start, size_t end) {
            out.append(current, previous_end, start - previous_end);
            out += step.spec.content;
            previous_end = end;
          });
          out.append(current, previous_end);
          current = std::move(out);
        }
        break;
    }
  }
  return current;
}

PreTokenizer::PreTokenizer(const std::vector<PreTokenizerStep>& steps,
                           std::string_view source) {
  for (const PreTokenizerStep& spec : steps) {
    Step step{spec, nullptr};
    if (spec.kind == PreTokenizerStep::Kind::kSplit && spec.pattern_is_regex) {
      step.regex = std::make_unique<Regex>(spec.pattern, source);
    } else if (spec.kind == PreTokenizerStep::Kind::kByteLevel &&
               spec.use_regex) {
      step.regex = std::make_unique<Regex>(kGpt2Pattern, source);
    } else if (spec.kind == PreTokenizerStep::Kind::kMetaspace &&
               spec.replacement.empty()) {
      fail("{}: Metaspace replacement is empty", source);
    }
    steps_.push_back(std::move(step));
  }
}

void PreTokenizer::pre_tokenize(std::string_view text, bool at_input_start,
                                std::vector<std::string>& out) const {
  std::vector<Piece> pieces;
  if (!text.empty()) pieces.push_back({std::string(text), at_input_start});
  std::vector<Piece> next;
  for (const Step& step : steps_) {
    next.clear();
    for (Piece& piece : pieces) apply(step, std::move(piece), next);
    pieces.swap(next);
  }
  for (Piece& piece : pieces) out.push_back(std::move(piece.text));
}

void PreTokenizer::apply(const Step& step, Piece piece,
                         std::vector<Piece>& out) const {
  const PreTokenizerStep& spec = step.spec;
  std::vector<std::pair<size_t, size_t>> ranges;
  std::string mapped;
  switch (spec.kind) {
    case PreTokenizerStep::Kind::kSplit:
      split_by_behavior(piece.text, step.regex.get(), spec.pattern,
                        spec.behavior, spec.invert, ranges);
      break;
    case PreTokenizerStep::Kind::kByteLevel:
      if (spec.add_prefix_space && piece.text.front() != ' ') {
        piece.text.insert(0, 1, ' ');
      }
      if (step.regex != nullptr) {
        split_by_behavior(piece.text, step.regex.get(), {},
                          SplitBehavior::kIsolated, false, ranges);
      } else {
        ranges.emplace_back(0, piece.text.size());
      }
      for (const auto& [start, end] : ranges) {
        mapped.clear();
        byte_level_encode(
            std::string_view(piece.text).substr(start, end - start), mapped);
        out.push_back({mapped, piece.at_input_start && start == 0});
      }
      return;
    case PreTokenizerStep::Kind::kMetaspace: {
      piece.text = replace_all(piece.text, " ", spec.replacement);
      const bool starts_with_replacement =
          piece.text.compare(0, spec.replacement.size(), spec.replacement) == 0;
      const bool prepend = spec.prepend_scheme == PrependScheme::kAlways ||
                           (spec.prepend_scheme == PrependScheme::kFirst &&
                            piece.at_input_start);
      if (prepend && !starts_with_replacement) {
        piece.text.insert(0, spec.replacement);
      }
      if (spec.split) {
        split_by_behavior(piece.text, nullptr, spec.replacement,
                          SplitBehavior::kMergedWithNext, false, ranges);
      } else {
        ranges.emplace_back(0, piece.text.size());
      }
      break;
    }
    case PreTokenizerStep::Kind::kDigits: {
      // Hugging Face's Digits pre-tokenizer tests for ASCII digits.
      const auto behavior = spec.individual_digits ? SplitBehavior::kIsolated
                                                   : SplitBehavior::kContiguous;
      std::vector<Span> spans;
      for (size_t i = 0; i < piece.text.size(); ++i) {
        const char c = piece.text[i];
        const bool digit = c >= '0' && c <= '9';
        if (!spans.empty() && !spans.back().is_match && !digit) {
          spans.back().end = i + 1;
        } else {
          spans.push_back({i, i + 1, digit});
        }
      }
      bool previous_digit = false;
      for (size_t i = 0; i < spans.size(); ++i) {
        const bool joins = behavior == SplitBehavior::kContiguous && i > 0 &&
                           spans[i].is_match && previous_digit;
        if (joins) {
          ranges.back().second = spans[i].end;
        } else {
          ranges.emplace_back(spans[i].start, spans[i].end);
        }
        previous_digit = spans[i].is_match;
      }
      break;
    }
  }
  for (const auto& [start, end] : ranges) {
    if (end > start) {
      out.push_back({piece.text.substr(start, end - start),
                     piece.at_input_start && start == 0});
    }
  }
}

std::vector<PreTokenizerStep> split_then_byte_level(
    const std::string& pattern) {
  PreTokenizerStep split;
  split.kind = PreTokenizerStep::Kind::kSplit;
  split.pattern = pattern;
  split.pattern_is_regex = true;
  split.behavior = SplitBehavior::kIsolated;
  PreTokenizerStep byte_level;
  byte_level.kind = PreTokenizerStep::Kind::kByteLevel;
  byte_level.add_prefix_space = false;
  byte_level.use_regex = false;
  return {split, byte_level};
}

std::vector<PreTokenizerStep> gpt2_byte_level() {
  PreTokenizerStep byte_level;
  byte_level.kind = PreTokenizerStep::Kind::kByteLevel;
  byte_level.add_prefix_space = false;
  byte_level.use_regex = true;
  return {byte_level};
}

}  // namespace optiq
