#include "optiq/core/parallel.h"

#include <thread>

namespace optiq {
namespace {
int g_threads = 0;
}

int thread_count() {
  if (g_threads <= 0) {
    unsigned cores = std::thread::hardware_concurrency();
    g_threads = cores == 0 ? 1 : static_cast<int>(cores);
  }
  return g_threads;
}

void set_thread_count(int threads) { g_threads = threads; }

}  // namespace optiq
