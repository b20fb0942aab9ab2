// A compiled PCRE2 regular expression for tokenizer patterns (Hugging Face
// Split and Replace steps), matched over UTF-8 text with Unicode
// properties.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace optiq {

class Regex {
 public:
  // Compiles `pattern` with PCRE2_UTF | PCRE2_UCP, so \s, \w and \d follow
  // Unicode properties, and with PCRE2_MATCH_INVALID_UTF, so subjects may
  // hold invalid UTF-8 (such bytes never match). JIT-compiles when PCRE2 has
  // a JIT. Throws optiq::Error naming `what`, the pattern and the error.
  Regex(const std::string& pattern, std::string_view what);
  ~Regex();
  Regex(Regex&& other) noexcept;
  Regex& operator=(Regex&& other) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Calls on_match(start, end) with byte offsets for each successive
  // non-overlapping, non-empty match in `subject`, left to right. Safe to
  // call from several threads at once.
  void for_each_match(
      std::string_view subject,
      const std::function<void(size_t start, size_t end)>& on_match) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::string pattern_;
  std::unique_ptr<Code> code_;
};

}  // namespace optiq
