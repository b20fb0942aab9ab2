#include "optiq/core/error.h"

namespace optiq {

void assertion_failed(const char* expression, const char* file, int line) {
  throw std::logic_error(fmt::format("internal error: assertion '{}' failed at {}:{}",
                                     expression, file, line));
}

}  // namespace optiq
