// One logging sink for diagnostics, on stderr. Results go to stdout.
#pragma once

#include <spdlog/spdlog.h>

namespace optiq {

// Level names as spdlog spells them: "debug", "info", "warn", "error", "off".
void set_log_level(const std::string& level);

}  // namespace optiq
