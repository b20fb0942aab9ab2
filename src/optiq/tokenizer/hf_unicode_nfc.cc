#include "optiq/tokenizer/hf_unicode_nfc.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "optiq/tokenizer/hf_utf8.h"

namespace optiq {
namespace {

// Hangul syllable arithmetic from the Unicode Standard, section 3.12.
constexpr uint32_t kSBase = 0xAC00;
constexpr uint32_t kLBase = 0x1100;
constexpr uint32_t kVBase = 0x1161;
constexpr uint32_t kTBase = 0x11A7;
constexpr uint32_t kLCount = 19;
constexpr uint32_t kVCount = 21;
constexpr uint32_t kTCount = 28;
constexpr uint32_t kNCount = kVCount * kTCount;
constexpr uint32_t kSCount = kLCount * kNCount;

uint8_t combining_class(uint32_t code_point) {
  if (code_point < 0x300 || (code_point & utf8::kInvalidByteFlag)) return 0;
  const auto* begin = nfc_data::kCombiningClassRanges;
  const auto* end = begin + nfc_data::kCombiningClassRangeCount;
  const auto* it = std::upper_bound(
      begin, end, code_point,
      [](uint32_t value, const nfc_data::CombiningClassRange& range) {
        return value < range.first;
      });
  if (it == begin) return 0;
  --it;
  return code_point <= it->last ? it->ccc : 0;
}

const nfc_data::CanonicalDecomposition* find_decomposition(
    uint32_t code_point) {
  const auto* begin = nfc_data::kCanonicalDecompositions;
  const auto* end = begin + nfc_data::kCanonicalDecompositionCount;
  const auto* it =
      std::lower_bound(begin, end, code_point,
                       [](const nfc_data::CanonicalDecomposition& entry,
                          uint32_t value) { return entry.code_point < value; });
  return it != end && it->code_point == code_point ? it : nullptr;
}

// Appends the full canonical decomposition of `code_point` to `out`.
void decompose(uint32_t code_point, std::vector<uint32_t>& out) {
  if (code_point >= kSBase && code_point < kSBase + kSCount) {
    const uint32_t index = code_point - kSBase;
    out.push_back(kLBase + index / kNCount);
    out.push_back(kVBase + (index % kNCount) / kTCount);
    if (index % kTCount != 0) out.push_back(kTBase + index % kTCount);
    return;
  }
  const nfc_data::CanonicalDecomposition* entry =
      code_point < 0xC0 ? nullptr : find_decomposition(code_point);
  if (entry == nullptr) {
    out.push_back(code_point);
    return;
  }
  decompose(entry->first, out);
  if (entry->second != 0) decompose(entry->second, out);
}

uint64_t pair_key(uint32_t first, uint32_t second) {
  return (static_cast<uint64_t>(first) << 32) | second;
}

// Primary composite of (first, second), or 0 when the pair does not compose.
uint32_t compose_pair(uint32_t first, uint32_t second) {
  if (first >= kLBase && first < kLBase + kLCount && second >= kVBase &&
      second < kVBase + kVCount) {
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  }
  if (first >= kSBase && first < kSBase + kSCount &&
      (first - kSBase) % kTCount == 0 && second > kTBase &&
      second < kTBase + kTCount) {
    return first + (second - kTBase);
  }
  static const std::unordered_map<uint64_t, uint32_t> compositions = [] {
    std::unordered_map<uint64_t, uint32_t> table;
    for (size_t i = 0; i < nfc_data::kCanonicalDecompositionCount; ++i) {
      const auto& entry = nfc_data::kCanonicalDecompositions[i];
      if (entry.composes) {
        table.emplace(pair_key(entry.first, entry.second), entry.code_point);
      }
    }
    return table;
  }();
  const auto it = compositions.find(pair_key(first, second));
  return it == compositions.end() ? 0 : it->second;
}

// Whether every code point of `text` is below U+0300: no such code point
// decomposes, has a non-zero combining class or is the second half of a
// composition, so the text is NFC already. Lead bytes 0xCC and up start code
// points from U+0300.
bool below_combining_marks(std::string_view text) {
  for (char c : text) {
    if (static_cast<uint8_t>(c) >= 0xCC) return false;
  }
  return true;
}

}  // namespace

std::string to_nfc(std::string_view text) {
  if (below_combining_marks(text)) return std::string(text);

  std::vector<uint32_t> decomposed;
  decomposed.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t length = 0;
    const uint32_t code_point = utf8::decode(text, pos, length);
    decompose(code_point, decomposed);
    pos += length;
  }

  // Canonical ordering: stable-sort each run of non-starters by class.
  for (size_t i = 0; i < decomposed.size();) {
    if (combining_class(decomposed[i]) == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < decomposed.size() && combining_class(decomposed[end]) != 0) {
      ++end;
    }
    std::stable_sort(decomposed.begin() + i, decomposed.begin() + end,
                     [](uint32_t a, uint32_t b) {
                       return combining_class(a) < combining_class(b);
                     });
    i = end;
  }

  // Canonical composition: each character combines with the last starter
  // unless a character in between has a class of 0 or >= its own (blocked).
  std::vector<uint32_t> composed;
  composed.reserve(decomposed.size());
  ptrdiff_t starter = -1;
  int last_class = -1;  // class of the last character after the starter
  for (uint32_t code_point : decomposed) {
    const int ccc = combining_class(code_point);
    if (starter >= 0 && !(last_class != -1 && last_class >= ccc)) {
      const uint32_t composite = compose_pair(composed[starter], code_point);
      if (composite != 0) {
        composed[starter] = composite;
        continue;
      }
    }
    if (ccc == 0) {
      starter = static_cast<ptrdiff_t>(composed.size());
      last_class = -1;
    } else {
      last_class = ccc;
    }
    composed.push_back(code_point);
  }

  std::string out;
  out.reserve(text.size());
  for (uint32_t code_point : composed) utf8::append(out, code_point);
  return out;
}

}  // namespace optiq
