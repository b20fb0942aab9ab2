// Error types shared by every layer of optiq.
//
// Two tiers: bad input (files, user options, budgets) throws optiq::Error
// with a message that names the file, tensor or key and the offending value;
// broken internal invariants throw std::logic_error through OPTIQ_ASSERT.
// Library code never calls exit() or abort() on bad input.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace optiq {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws optiq::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

[[noreturn]] void assertion_failed(const char* expression, const char* file,
                                   int line);

}  // namespace optiq

// Always-on check of an internal invariant; a failure is a bug in optiq.
#define OPTIQ_ASSERT(expression)                                  \
  do {                                                            \
    if (!(expression)) {                                          \
      ::optiq::assertion_failed(#expression, __FILE__, __LINE__); \
    }                                                             \
  } while (false)
