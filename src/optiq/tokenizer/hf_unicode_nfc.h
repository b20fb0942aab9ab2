// Unicode Normalization Form C (canonical decomposition followed by
// canonical composition, UAX #15) for the tokenizer's NFC normalizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace optiq {

// Returns the NFC form of `text`. Bytes that are not valid UTF-8 are kept
// unchanged and act as starters that compose with nothing. Text whose code
// points are all below U+0300 is NFC already and is returned as is. The
// tables are Unicode 14.0 (hf_unicode_nfc_data.cc).
std::string to_nfc(std::string_view text);

namespace nfc_data {

// Code points first..last (inclusive) have canonical combining class `ccc`.
struct CombiningClassRange {
  uint32_t first;
  uint32_t last;
  uint8_t ccc;
};

// The canonical decomposition of `code_point` is `first` followed by
// `second` (0 when the mapping is a single code point). `composes` marks the
// primary composites that canonical composition produces again.
struct CanonicalDecomposition {
  uint32_t code_point;
  uint32_t first;
  uint32_t second;
  bool composes;
};

// Sorted by code point; Hangul syllables are handled algorithmically.
extern const CombiningClassRange kCombiningClassRanges[];
extern const size_t kCombiningClassRangeCount;
extern const CanonicalDecomposition kCanonicalDecompositions[];
extern const size_t kCanonicalDecompositionCount;

}  // namespace nfc_data
}  // namespace optiq
