// Deterministic data parallelism.
//
// Work is split into fixed contiguous ranges by index, and each output element
// is computed by exactly one thread with the same operation order, so results
// are bit-identical whatever the thread count.
#pragma once

#include <cstdint>

namespace optiq {

// Number of worker threads used by parallel_for and by OpenBLAS.
int thread_count();

// Sets the worker count for optiq's loops and OpenBLAS; 0 means all cores.
void set_thread_count(int threads);

// Calls body(i) for every i in [0, n) across the worker threads.
template <typename Body>
void parallel_for(int64_t n, Body&& body) {
#pragma omp parallel for schedule(static) num_threads(thread_count())
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace optiq
