// Progress lines on stderr for long work: count, rate and ETA per step.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace optiq {

class Progress {
 public:
  // label: what is being done ("profile"); total: number of steps; unit: what
  // a step is ("tensor", "chunk").
  Progress(std::string label, int64_t total, std::string unit);

  // Records `steps` more finished steps and prints one line with `detail`.
  // Lines are rate-limited to a few per second unless this is the last step.
  void advance(int64_t steps, const std::string& detail = "");

  double elapsed_seconds() const;
  int64_t done() const { return done_; }

  // Disables all progress output (for --quiet and for tests).
  static void set_enabled(bool enabled);

 private:
  std::string label_;
  std::string unit_;
  int64_t total_;
  int64_t done_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
};

// Formats seconds as "1h02m", "3m05s" or "4.2s".
std::string format_duration(double seconds);

}  // namespace optiq
