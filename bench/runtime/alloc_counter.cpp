// Global operator new/delete replacement for the benchmark binary (see
// alloc_counter.hpp).  All variants forward to malloc/aligned_alloc/free so
// that malloc_usable_size applies to every block.
#include "alloc_counter.hpp"

#include <malloc.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace bench {
namespace {

thread_local AllocStats t_stats;
bool g_measure_usable = false;

void* counted_alloc(std::size_t n, std::size_t align) noexcept {
  if (n == 0) n = 1;
  void* p;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(n);
  } else {
    n = (n + align - 1) / align * align;  // aligned_alloc requires a multiple
    p = std::aligned_alloc(align, n);
  }
  if (p != nullptr) {
    ++t_stats.calls;
    t_stats.bytes += n;
    if (g_measure_usable) [[unlikely]]
      t_stats.usable_alloc += malloc_usable_size(p);
  }
  return p;
}

void* alloc_or_throw(std::size_t n, std::size_t align) {
  for (;;) {
    if (void* p = counted_alloc(n, align)) return p;
    std::new_handler h = std::get_new_handler();
    if (h == nullptr) throw std::bad_alloc();
    h();
  }
}

void counted_free(void* p) noexcept {
  if (p == nullptr) return;
  ++t_stats.frees;
  if (g_measure_usable) [[unlikely]]
    t_stats.usable_freed += malloc_usable_size(p);
  std::free(p);
}

}  // namespace

AllocStats thread_alloc_stats() noexcept { return t_stats; }
void set_measure_usable(bool on) noexcept { g_measure_usable = on; }

}  // namespace bench

using bench::alloc_or_throw;
using bench::counted_alloc;
using bench::counted_free;

constexpr std::size_t kDefaultAlign = alignof(std::max_align_t);

void* operator new(std::size_t n) { return alloc_or_throw(n, kDefaultAlign); }
void* operator new[](std::size_t n) { return alloc_or_throw(n, kDefaultAlign); }
void* operator new(std::size_t n, std::align_val_t a) { return alloc_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return alloc_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, kDefaultAlign); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_alloc(n, kDefaultAlign); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_alloc(n, static_cast<std::size_t>(a));
}

void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { counted_free(p); }
