// A cancelled or finished child is unregistered from its parent: a long-lived
// parent that derives and cancels a million children holds none of them
// afterwards, and the process's heap stays flat.
#include <gtest/gtest.h>

#include <malloc.h>

#include <atomic>

#include "ctxscope/context.hpp"
#include "runtime/event_recorder.hpp"
#include "runtime/tree_probe.hpp"

using namespace ctxscope;
using ctxscope::testing::kSanitized;
using ctxscope::testing::registered_children;

namespace {

/// Counts the lifecycle events of one parent's children without storing
/// them (a million children make four million events).
class ChildCounter final : public EventSink {
 public:
  void on_event(const Event& e) noexcept override {
    const std::uint64_t p = parent.load(std::memory_order_relaxed);
    if (e.ref != p || p == 0) return;
    if (e.type == EventType::ctx_create) created.fetch_add(1, std::memory_order_relaxed);
    if (e.type == EventType::ctx_release || releases_in_cancel(e)) {  // own release folded into its cancel
      released.fetch_add(1, std::memory_order_relaxed);
      if (releases_in_cancel(e) || e.kind == static_cast<std::uint8_t>(ReleaseReason::own_cancel))
        released_by_cancel.fetch_add(1, std::memory_order_relaxed);
    }
  }
  std::atomic<std::uint64_t> parent{0};
  std::atomic<long> created{0}, released{0}, released_by_cancel{0};
};

ChildCounter& counter() {
  static auto* c = new ChildCounter;  // a sink must stay valid forever
  return *c;
}

std::size_t heap_in_use() { return mallinfo2().uordblks; }

}  // namespace

TEST(Registration, ParentHoldsNoneOfAMillionCancelledChildrenAndMemoryStaysFlat) {
  // Under sanitizers the count is smaller (they are 10-50x slower, and their
  // allocators are invisible to mallinfo2); LeakSanitizer checks the rest.
  const long n = kSanitized ? 100'000 : 1'000'000;
  auto [parent, cancel] = with_cancel(background());
  counter().parent = parent.id();
  counter().created = counter().released = counter().released_by_cancel = 0;
  EventSink* old = install_event_sink(&counter());

  for (int i = 0; i < 1000; ++i) {  // warm up per-thread caches before measuring
    auto [c, k] = with_cancel(parent);
    k();
  }
  const std::size_t before = heap_in_use();
  for (long i = 0; i < n; ++i) {
    auto [c, k] = with_cancel(parent);
    k();
  }
  const std::size_t after = heap_in_use();
  install_event_sink(old);

  EXPECT_EQ(registered_children(parent), 0u);
  EXPECT_EQ(counter().created.load(), n + 1000);
  EXPECT_EQ(counter().released.load(), n + 1000);
  EXPECT_EQ(counter().released_by_cancel.load(), n + 1000);
  // Leaking even 16 bytes per child would show as 16 MB; the tolerance only
  // absorbs allocator noise.
  const long growth = static_cast<long>(after) - static_cast<long>(before);
  EXPECT_LT(growth, 4L << 20) << "heap grew by " << growth << " bytes over " << n << " children";
  EXPECT_FALSE(parent.err());
}

TEST(Registration, ChildrenDroppedWithoutCancelAreReleasedToo) {
  const long n = kSanitized ? 20'000 : 200'000;
  auto [parent, cancel] = with_timeout(background(), std::chrono::hours(1));
  counter().parent = parent.id();
  counter().created = counter().released = counter().released_by_cancel = 0;
  EventSink* old = install_event_sink(&counter());
  for (long i = 0; i < n; ++i) {
    auto [c, k] = with_timeout(parent, std::chrono::hours(2));
    (void)c;
  }
  install_event_sink(old);
  EXPECT_EQ(registered_children(parent), 0u);
  EXPECT_EQ(counter().created.load(), n);
  EXPECT_EQ(counter().released.load(), n);
  EXPECT_EQ(counter().released_by_cancel.load(), 0);
}

TEST(Registration, LiveChildrenStayRegisteredUntilCancelled) {
  auto [parent, cancel] = with_cancel(background());
  std::vector<std::pair<Context, CancelFunc>> kids;
  for (int i = 0; i < 100; ++i) kids.push_back(with_cancel(parent));
  EXPECT_EQ(registered_children(parent), 100u);
  for (int i = 0; i < 100; i += 2) kids[static_cast<std::size_t>(i)].second();
  EXPECT_EQ(registered_children(parent), 50u);
  cancel();
  EXPECT_EQ(registered_children(parent), 0u);
  for (auto& [c, k] : kids) EXPECT_EQ(c.err(), errc::canceled);
}
