// Deterministic data parallelism.
//
// Work is split into fixed contiguous ranges by index, and each output element
// is computed by exactly one thread with the same operation order, so results
// are bit-identical whatever the thread count.
#pragma once

#include <cstdint>

namespace optiq {

// Number of worker threads used by parallel_for.
int thread_count();

// Sets the worker count; 0 means all cores.
void set_thread_count(int threads);

// Loops with less total work than this (in rough element operations) run on
// the calling thread: waking workers costs more than it saves, and badly so
// when the cores are busy.
inline constexpr int64_t kMinParallelWork = int64_t{1} << 16;

// Calls body(i) for every i in [0, n) across the worker threads.
// work_per_item: rough element operations per call, to skip threading for
// small loops.
template <typename Body>
void parallel_for(int64_t n, Body&& body, int64_t work_per_item = kMinParallelWork) {
  const bool threaded = n > 1 && thread_count() > 1 && n * work_per_item >= kMinParallelWork;
#pragma omp parallel for schedule(static) num_threads(thread_count()) if (threaded)
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace optiq
