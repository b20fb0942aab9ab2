#include "optiq/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "optiq/core/error.h"

namespace optiq {

void set_log_level(const std::string& level) {
  static const bool initialized = [] {
    auto logger = spdlog::stderr_color_mt("optiq");
    logger->set_pattern("%^%l%$: %v");
    spdlog::set_default_logger(logger);
    return true;
  }();
  (void)initialized;
  spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    fail("invalid log level '{}': expected debug, info, warn, error or off", level);
  }
  spdlog::set_level(parsed);
}

}  // namespace optiq
