#include "optiq/tokenizer/hf_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "optiq/core/error.h"

namespace optiq {

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

namespace {

std::string pcre2_message(int error_code) {
  PCRE2_UCHAR buffer[256];
  const int length = pcre2_get_error_message(error_code, buffer, sizeof buffer);
  if (length < 0) return "PCRE2 error " + std::to_string(error_code);
  return std::string(reinterpret_cast<const char*>(buffer), length);
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

}  // namespace

Regex::Regex(const std::string& pattern, std::string_view what)
    : pattern_(pattern), code_(std::make_unique<Code>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                              pattern.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF,
                              &error_code, &error_offset, nullptr);
  if (code_->code == nullptr) {
    fail("{}: invalid regular expression \"{}\" at offset {}: {}", what,
         pattern, error_offset, pcre2_message(error_code));
  }
  // A failed JIT compilation (no JIT support on this platform) leaves the
  // interpreter, which gives the same matches.
  pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() = default;
Regex::Regex(Regex&& other) noexcept = default;
Regex& Regex::operator=(Regex&& other) noexcept = default;

void Regex::for_each_match(
    std::string_view subject,
    const std::function<void(size_t start, size_t end)>& on_match) const {
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> match_data(
      pcre2_match_data_create_from_pattern(code_->code, nullptr));
  if (!match_data) fail("regex \"{}\": out of memory", pattern_);
  const auto* data = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t offset = 0;
  while (offset <= subject.size()) {
    // pcre2_match runs the JIT code when there is some. The JIT stack is
    // small and fixed, so a subject that exhausts it is rematched by the
    // interpreter, whose frames live on the heap.
    int rc = pcre2_match(code_->code, data, subject.size(), offset,
                         PCRE2_NOTEMPTY, match_data.get(), nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      rc =
          pcre2_match(code_->code, data, subject.size(), offset,
                      PCRE2_NOTEMPTY | PCRE2_NO_JIT, match_data.get(), nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      fail("regex \"{}\": matching failed at byte {}: {}", pattern_, offset,
           pcre2_message(rc));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data.get());
    on_match(ovector[0], ovector[1]);
    offset = ovector[1];
  }
}

}  // namespace optiq
