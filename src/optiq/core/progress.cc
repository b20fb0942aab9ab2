#include "optiq/core/progress.h"

#include <fmt/format.h>

#include <cstdio>

namespace optiq {
namespace {
bool g_enabled = true;
}

void Progress::set_enabled(bool enabled) { g_enabled = enabled; }

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
      .count();
}

void Progress::advance(int64_t steps, const std::string& detail) {
  done_ += steps;
  if (!g_enabled) return;
  auto now = std::chrono::steady_clock::now();
  bool last = done_ >= total_;
  if (!last && now - last_print_ < std::chrono::milliseconds(250)) return;
  last_print_ = now;
  double elapsed = elapsed_seconds();
  double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : 0.0;
  int width = static_cast<int>(fmt::format("{}", total_).size());
  std::string speed = rate >= 1.0 || rate == 0.0
                          ? fmt::format("{:.1f} {}/s", rate, unit_)
                          : fmt::format("{:.1f} s/{}", 1.0 / rate, unit_);
  std::string line = fmt::format("{} [{:>{}}/{}] {}, ETA {}", label_, done_, width, total_,
                                 speed, format_duration(eta));
  if (!detail.empty()) line += "  " + detail;
  std::fprintf(stderr, "%s\n", line.c_str());
}

std::string format_duration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  auto total = static_cast<int64_t>(seconds + 0.5);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

}  // namespace optiq
