// The runtime's own stack walker (cfi_unwind.hpp) against glibc's unwinder
// (Boost.Stacktrace) and libunwind: the same return addresses, frame for
// frame, on every kind of stack a context can be created from — deep
// recursion, std::function, callbacks from glibc's and libstdc++'s own code
// (built without frame pointers), other threads, many threads meeting new
// code at once — and a signal frame, where it gives up and the capture
// still has the whole stack.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <barrier>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <ucontext.h>
#include <vector>

#include "recorder/cfi_unwind.hpp"
#include "recorder/stack_capture.hpp"

namespace {

namespace d = ctxscope::trace::detail;
using Frames = std::vector<const void*>;

constexpr int kMax = 64;

struct Grab {
  int cfi = 0, boost = 0, unw = 0;
  Frames f_cfi, f_boost, f_unw;
};

bool libunwind_usable() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return false;  // never loaded under a sanitizer (stack_capture.hpp)
#else
  return true;
#endif
}

// All unwinders from one function: their first two addresses are call sites
// inside backtrace_with and grab (different for each), the rest is the same
// stack.
[[gnu::noinline]] void grab(Grab& g) {
  const void* a[kMax];
  g.cfi = d::backtrace_with(d::Unwinder::cfi, a, kMax);
  g.f_cfi.assign(a, a + std::max(g.cfi, 0));
  g.boost = d::backtrace_with(d::Unwinder::boost, a, kMax);
  g.f_boost.assign(a, a + std::max(g.boost, 0));
  if (libunwind_usable()) {
    g.unw = d::backtrace_with(d::Unwinder::libunwind, a, kMax);
    g.f_unw.assign(a, a + std::max(g.unw, 0));
  }
  asm volatile("" ::: "memory");  // not a tail call: grab's own frame stays
}

// Past backtrace_with's own call and grab's three call sites of it: grab's
// caller and everything under it.
Frames tail(const Frames& f) { return f.size() < 2 ? Frames{} : Frames(f.begin() + 2, f.end()); }

void expect_same(const Grab& g, const char* where) {
  SCOPED_TRACE(where);
  ASSERT_GT(g.cfi, 3) << "the walker gave up on an ordinary stack";
  ASSERT_GT(g.boost, 3);
  EXPECT_EQ(tail(g.f_cfi), tail(g.f_boost));
  if (libunwind_usable() && g.unw > 0) {
    EXPECT_EQ(tail(g.f_cfi), tail(g.f_unw));
  }
}

[[gnu::noinline]] void recurse(int depth, Grab& g) {
  if (depth == 0)
    grab(g);
  else
    recurse(depth - 1, g);
  asm volatile("" ::: "memory");
}

TEST(StackWalk, IsTheDefaultUnwinder) {
  const d::Unwinder before = d::init_unwinder();
  ASSERT_TRUE(d::cfi_available()) << "x86-64 Linux: the walker is built";
  EXPECT_EQ(before, d::Unwinder::cfi);
  EXPECT_STREQ(d::unwinder_name(), "cfi");
}

TEST(StackWalk, MatchesGlibcsUnwinderThroughDeepRecursionToTheThreadsFirstFrame) {
  for (int depth : {0, 1, 7, 40, 100}) {
    Grab g;
    recurse(depth, g);
    expect_same(g, ("depth " + std::to_string(depth)).c_str());
  }
}

TEST(StackWalk, MatchesThroughStdFunctionAndLambdas) {
  Grab g;
  std::function<void()> f = [&] { grab(g); };
  std::function<void()> outer = [&] { f(); };
  outer();
  expect_same(g, "std::function");
}

// glibc's qsort and libstdc++'s call_once are Debian's builds: no frame
// pointers, only their unwind tables.
Grab* g_qsort_grab = nullptr;
int compare_and_grab(const void* a, const void* b) {
  if (g_qsort_grab) {
    grab(*g_qsort_grab);
    g_qsort_grab = nullptr;
  }
  return *static_cast<const int*>(a) - *static_cast<const int*>(b);
}

TEST(StackWalk, MatchesThroughGlibcAndLibstdcxxFrames) {
  Grab g;
  g_qsort_grab = &g;
  int v[] = {5, 3, 9, 1, 7, 2, 8};
  std::qsort(v, std::size(v), sizeof v[0], compare_and_grab);
  EXPECT_EQ(v[0], 1);
  expect_same(g, "qsort's comparator");

  Grab h;
  std::once_flag once;
  std::call_once(once, [&] { grab(h); });
  expect_same(h, "std::call_once");
}

TEST(StackWalk, MatchesOnAnotherThreadToItsFirstFrame) {
  Grab g;
  std::thread([&] { recurse(5, g); }).join();
  expect_same(g, "std::thread");
  // Every stack the walker could finish ended where glibc's ends: at the
  // frame whose return address is undefined (clone3, _start).
  EXPECT_LT(g.cfi, kMax);
}

// capture_stack, as the recorder calls it, under each unwinder: the same
// addresses past its own call sites.
[[gnu::noinline]] int capture_as(d::Unwinder u, const void** out, int max) {
  const d::Unwinder before = d::init_unwinder();
  EXPECT_EQ(d::select_unwinder(u, 0), u);
  const int n = d::capture_stack(out, max);
  d::select_unwinder(before);
  return n;
}

TEST(StackWalk, CaptureStackGivesTheSameAddressesWithEveryUnwinder) {
  std::vector<d::Unwinder> us{d::Unwinder::cfi, d::Unwinder::boost};
  if (libunwind_usable()) us.push_back(d::Unwinder::libunwind);
  std::vector<Frames> got;
  for (const d::Unwinder u : us) {
    const void* a[14];
    const int n = capture_as(u, a, 14);
    got.emplace_back(a, a + std::max(n, 0));
  }
  for (std::size_t i = 1; i < got.size(); ++i) {
    ASSERT_EQ(got[0].size(), got[i].size()) << "unwinder " << i;
    // Entry 0 is the unwinder's call site inside capture_stack (one per
    // unwinder); from entry 1 on, capture_as and everything under it.
    EXPECT_EQ(Frames(got[0].begin() + 1, got[0].end()), Frames(got[i].begin() + 1, got[i].end())) << "unwinder " << i;
  }
}

// Fresh code for many threads to meet at once: each template instance is a
// function no other test walks, so its rule is learned here, by whichever
// thread gets there first, while the others read the table.
template <int N>
[[gnu::noinline]] void fresh(Grab& g) {
  if constexpr (N == 0)
    grab(g);
  else
    fresh<N - 1>(g);
  asm volatile("" ::: "memory");
}

TEST(StackWalk, ManyThreadsLearnTheSameNewCodeAtOnce) {
  constexpr int kThreads = 8;
  std::array<Grab, kThreads> grabs;
  std::barrier start(kThreads);
  std::vector<std::thread> ts;
  const std::size_t rules_before = d::cfi_rules_cached();
  for (int i = 0; i < kThreads; ++i)
    ts.emplace_back([&, i] {
      start.arrive_and_wait();
      fresh<24>(grabs[i]);
    });
  for (auto& t : ts) t.join();
  for (int i = 0; i < kThreads; ++i) expect_same(grabs[i], ("thread " + std::to_string(i)).c_str());
  // 25 new functions at least (fresh<0..24>), each kept once however many
  // threads raced to learn it.
  EXPECT_GE(d::cfi_rules_cached(), rules_before + 25);
  EXPECT_LE(d::cfi_rules_cached(), rules_before + 25 + 40);
}

// In a signal handler the stack has the kernel's signal frame, which the
// walker does not follow (its CFA is a DWARF expression): it gives up, and
// capture_stack takes the capture with Boost, through the signal frame down
// to the code that was interrupted.
struct InHandler {
  int cfi = 0, captured = 0, boost = 0;
  std::array<const void*, kMax> captured_frames{}, boost_frames{};
};
InHandler* g_in_handler = nullptr;

void on_signal(int) {
  InHandler& h = *g_in_handler;
  const void* a[kMax];
  h.cfi = d::backtrace_with(d::Unwinder::cfi, a, kMax);
  h.captured = d::capture_stack(h.captured_frames.data(), kMax);
  h.boost = d::backtrace_with(d::Unwinder::boost, h.boost_frames.data(), kMax);
}

[[gnu::noinline]] void raise_here() {
  std::raise(SIGUSR1);
  asm volatile("" ::: "memory");
}

TEST(StackWalk, GivesUpOnASignalFrameAndTheCaptureStillHasTheWholeStack) {
  const d::Unwinder before = d::init_unwinder();
  d::select_unwinder(d::Unwinder::cfi);
  {
    Grab warm;  // the walk's stack bounds are read before the handler runs
    grab(warm);
  }
  InHandler h;
  g_in_handler = &h;
  struct sigaction sa {}, old{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  const std::size_t given_up = d::cfi_walks_given_up();
  raise_here();
  sigaction(SIGUSR1, &old, nullptr);
  d::select_unwinder(before);
  EXPECT_EQ(h.cfi, -1);
  EXPECT_GE(d::cfi_walks_given_up(), given_up + 2);  // backtrace_with's and capture_stack's
  ASSERT_GT(h.captured, 4);
  ASSERT_GT(h.boost, 4);
  // Past the handler's own frame (different call sites), the same stack,
  // through the signal frame.
  const Frames captured(h.captured_frames.begin() + 2, h.captured_frames.begin() + h.captured);
  const Frames boost(h.boost_frames.begin() + 2, h.boost_frames.begin() + h.boost);
  EXPECT_EQ(captured, boost);
}

// On a stack the thread did not start with (a fiber's, here makecontext's on
// the heap) the walker does not know the bounds: it gives up at once, and the
// capture is Boost's.
ucontext_t g_main_uc, g_fiber_uc;
int g_fiber_cfi = 0, g_fiber_captured = 0;
void on_fiber() {
  const void* a[kMax];
  g_fiber_cfi = d::backtrace_with(d::Unwinder::cfi, a, kMax);
  g_fiber_captured = d::capture_stack(a, kMax);
}

TEST(StackWalk, GivesUpOnAFibersStackAndTheCaptureStillHasIt) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizers do not follow swapcontext's stack switch";
#endif
  const d::Unwinder before = d::init_unwinder();
  d::select_unwinder(d::Unwinder::cfi);
  std::vector<char> stack(256 * 1024);
  ASSERT_EQ(getcontext(&g_fiber_uc), 0);
  g_fiber_uc.uc_stack.ss_sp = stack.data();
  g_fiber_uc.uc_stack.ss_size = stack.size();
  g_fiber_uc.uc_link = &g_main_uc;
  makecontext(&g_fiber_uc, on_fiber, 0);
  ASSERT_EQ(swapcontext(&g_main_uc, &g_fiber_uc), 0);
  d::select_unwinder(before);
  EXPECT_EQ(g_fiber_cfi, -1);
  EXPECT_GE(g_fiber_captured, 2);  // capture_stack, on_fiber (and makecontext's start)
}

}  // namespace
