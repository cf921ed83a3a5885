// CPU executor: runs a per-element functor over [0, n) on OpenMP threads (serially when small).
#pragma once
#include <algorithm>
#include <cstdint>
#include <exception>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace vr {

// Splits [0, n) into contiguous ranges of at least `grain` elements, one per thread, and calls
// body(begin, end) for each. An exception thrown by a body (std::bad_alloc of a scratch buffer)
// must not leave an OpenMP region, which would terminate the process: the first one is caught and
// rethrown after the region, so it reaches Python as an exception.
template <class Body> void parallel_ranges(int64_t n, int64_t grain, const Body& body) {
  if (n <= 0) return;
#ifdef _OPENMP
  const int64_t max_threads = omp_get_max_threads();
  const int64_t chunks = std::min<int64_t>(max_threads, (n + grain - 1) / grain);
  if (chunks > 1 && !omp_in_parallel()) {
    std::exception_ptr error;
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
    for (int64_t c = 0; c < chunks; ++c) {
      try {
        body(n / chunks * c + std::min(c, n % chunks), n / chunks * (c + 1) + std::min(c + 1, n % chunks));
      } catch (...) {
#pragma omp critical(vr_parallel_ranges_error)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#endif
  body(int64_t{0}, n);
}

struct CpuExec {
  // f(i) for i in [0, n)
  template <class F> void for_each(int64_t n, const F& f, int64_t grain = 4096) const {
    parallel_ranges(n, grain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) f(i);
    });
  }
  // f(i, j) for i in [0, n), j in [0, m), in row-major order; no division per element.
  template <class F> void for_each_2d(int64_t n, int64_t m, const F& f, int64_t grain = 4096) const {
    if (n <= 0 || m <= 0) return;
    parallel_ranges(n * m, grain, [&](int64_t b, int64_t e) {
      int64_t i = b / m, j = b % m;
      for (int64_t k = b; k < e; ++k) {
        f(i, j);
        if (++j == m) { j = 0; ++i; }
      }
    });
  }
};

}  // namespace vr
