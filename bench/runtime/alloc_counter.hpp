// bench/runtime/alloc_counter.hpp — allocation counting for the benchmarks.
//
// alloc_counter.cpp replaces the global operator new/delete of the benchmark
// binary.  Every allocation bumps two thread-local counters (calls, requested
// bytes): a couple of instructions, the same bookkeeping Go's -benchmem pays.
// While `measure_usable` is set, it also sums malloc_usable_size of blocks
// allocated and freed, i.e. what the allocator really hands out after rounding;
// set it only from a single-threaded section.
#pragma once

#include <cstdint>

namespace bench {

struct AllocStats {
  std::uint64_t calls = 0;           ///< operator new calls
  std::uint64_t bytes = 0;           ///< bytes requested from operator new
  std::uint64_t frees = 0;           ///< operator delete calls (non-null)
  std::uint64_t usable_alloc = 0;    ///< malloc_usable_size of blocks allocated (measure_usable only)
  std::uint64_t usable_freed = 0;    ///< malloc_usable_size of blocks freed (measure_usable only)
};

/// The calling thread's counters since it started.
AllocStats thread_alloc_stats() noexcept;

/// Enables usable-size accounting on every thread.  Not thread-safe to flip.
void set_measure_usable(bool on) noexcept;

}  // namespace bench
