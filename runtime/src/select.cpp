// The blocking engine: Waiter parking and select (see detail/select.hpp).
#include "ctxscope/detail/select.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <cstdlib>
#include <array>
#include <vector>

namespace ctxscope::detail {
namespace {

// woke: 0 running/spinning, 2 asleep in futex, 1 woken.  wake() is
// `exchange(1)` and enters the kernel only if the waiter is asleep.
constexpr std::uint32_t kRunning = 0, kWoken = 1, kAsleep = 2;

// The spin policy (docs/performance.md, "Spin policy").
//
// 1. Partner spin.  A wait that knows which thread will most likely complete
//    it (Waiter::partner: the last thread seen on the other side of the
//    channel) spins while that thread may be on another CPU: its record is not
//    `parked` and its last CPU is not ours.  It stops at once when the partner
//    parks (asleep in the kernel, or exited: it cannot complete the wait before
//    someone else wakes it) or shows up on our CPU (it is then runnable only
//    once we get off it — the loaded-machine case), and after a budget of at
//    most kPartnerSpinNs, about twice the cross-core futex wake-up it saves
//    (the 2-competitive bound of spin-then-block).  The budget adapts per
//    thread: halved each time it runs out (the partner was preempted where it
//    ran, or busy elsewhere), doubled on success, never below kMinSpinNs.
//    This lets two threads on two CPUs hand values back and forth without
//    entering the kernel.
// 2. Then, or with no partner known: 12 pauses and 4 sched_yield() (libstdc++'s
//    policy for std::atomic::wait), the policy of the previous releases.
// 3. Then the futex.  The record says `parked` from just before the futex wait
//    until the thread runs again, so partners stop spinning for it.
constexpr std::uint64_t kPartnerSpinNs = 10'000;
constexpr std::uint64_t kMinSpinNs = 1'000;

/// The maximum partner-spin budget: kPartnerSpinNs, or CTXSCOPE_SPIN_NS
/// (0 turns partner spinning off: the policy of the previous releases).
std::uint64_t max_spin_ns() noexcept {
  static const std::uint64_t v = [] {
    const char* e = std::getenv("CTXSCOPE_SPIN_NS");
    if (e == nullptr || *e == '\0') return kPartnerSpinNs;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(e, &end, 10);
    return end != e ? std::min<std::uint64_t>(n, 1'000'000) : kPartnerSpinNs;
  }();
  return v;
}
constexpr int kSpins = 12;
constexpr int kYields = 4;

long futex(std::atomic<std::uint32_t>* a, int op, std::uint32_t v, const timespec* ts) noexcept {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(a), op, v, ts, nullptr, 0);
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// The CPU the caller runs on (glibc reads it from rseq: no system call), and
/// publishes it in `me`.
inline std::int32_t publish_cpu(ThreadRec* me) noexcept {
  const std::int32_t c = sched_getcpu();
  // Stored only when it changed: partners read this line while we spin, and a
  // store would have to take it back from them on the handoff's critical path.
  if (me != nullptr && me->cpu.load(std::memory_order_relaxed) != c) me->cpu.store(c, std::memory_order_relaxed);
  return c;
}

/// Whether `p` may be on a CPU other than ours: not parked, and not last seen
/// on our CPU (where it could only be waiting for us to get off it).
inline bool partner_elsewhere(const ThreadRec* p, std::int32_t my_cpu) noexcept {
  if (p->state.load(std::memory_order_relaxed) == ThreadRec::parked) return false;
  const std::int32_t c = p->cpu.load(std::memory_order_relaxed);
  return c < 0 || my_cpu < 0 || c != my_cpu;
}

/// The partner spin shared by Waiter::park (step 1) and the channels' poll
/// before they wait (spin_until): spins while `p` may be on another CPU, until
/// `done()`; the caller's adaptive budget (`me`) bounds it.  True once done;
/// false when the partner parked or is on our CPU, the budget (or
/// `deadline_ns`, if sooner) ran out, or there is no partner.
template <class Done>
bool partner_spin(ThreadRec* me, ThreadRec* p, std::uint64_t deadline_ns, Done done) noexcept {
  if (p == nullptr || p == me) return false;
  std::int32_t cpu = publish_cpu(me);
  if (!partner_elsewhere(p, cpu)) return false;
  const std::uint64_t max = max_spin_ns();
  if (max == 0) return false;
  std::uint64_t budget = max;
  if (me != nullptr) {
    if (me->spin_budget_ns == 0 || me->spin_budget_ns > max) me->spin_budget_ns = static_cast<std::uint32_t>(max);
    budget = me->spin_budget_ns;
  }
  std::uint64_t end = now_ns() + budget;
  if (deadline_ns != 0 && deadline_ns < end) end = deadline_ns;
  for (unsigned i = 1;; ++i) {
    if (done()) {
      // Stored only when it changes: the record's line is the one partners
      // read while they spin (`state`), and a store would have to take it
      // back from them — on the critical path of our next handoff, whose
      // first locked instruction waits for the store to drain.
      const auto grown = static_cast<std::uint32_t>(std::min<std::uint64_t>(max, budget * 2));
      if (me != nullptr && me->spin_budget_ns != grown) me->spin_budget_ns = grown;
      return true;
    }
    if (p->state.load(std::memory_order_relaxed) == ThreadRec::parked) return false;
    if ((i & 31) == 0) {
      if (now_ns() >= end) {
        // Ran out while the partner looked busy elsewhere (preempted there, or
        // busy with other work): spin less next time.
        if (me != nullptr) me->spin_budget_ns = static_cast<std::uint32_t>(std::max(kMinSpinNs, budget / 2));
        return false;
      }
      cpu = publish_cpu(me);  // we may have been migrated (or preempted and resumed)
      if (!partner_elsewhere(p, cpu)) return false;
    }
    cpu_relax();
  }
}

/// Step 1: true once woken.
bool spin_for_partner(const Waiter& w, std::uint64_t deadline_ns) noexcept {
  return partner_spin(w.me, w.partner, deadline_ns,
                      [&w] { return w.woke.load(std::memory_order_acquire) == kWoken; });
}

/// Steps 1 and 2.
bool spin_for_wake(const Waiter& w, std::uint64_t deadline_ns) noexcept {
  if (spin_for_partner(w, deadline_ns)) return true;
  const std::atomic<std::uint32_t>& woke = w.woke;
  for (int i = 0; i < kSpins; ++i) {
    if (woke.load(std::memory_order_acquire) == kWoken) return true;
    cpu_relax();
  }
  for (int i = 0; i < kYields; ++i) {
    if (woke.load(std::memory_order_acquire) == kWoken) return true;
    sched_yield();
  }
  return woke.load(std::memory_order_acquire) == kWoken;
}

/// Publishes the parking thread's state for its partners (no-op without a record).
inline void publish(ThreadRec* me, std::uint32_t st) noexcept {
  if (me != nullptr) me->state.store(st, std::memory_order_relaxed);
}

// Thread records: a never-freed pool (see ThreadRec).
struct RecPool {
  Lock lock;
  ThreadRec* free = nullptr;
};
RecPool& rec_pool() noexcept {
  static auto* p = new RecPool;  // never destroyed: threads exit after static destructors
  return *p;
}
thread_local ThreadRec* t_rec = nullptr;
struct RecHolder {
  ThreadRec* r = nullptr;
  ~RecHolder() {
    if (r == nullptr) return;
    r->state.store(ThreadRec::parked, std::memory_order_relaxed);  // exited: nobody spins for it
    t_rec = nullptr;
    RecPool& p = rec_pool();
    LockGuard g(p.lock);
    r->next_free = p.free;
    p.free = r;
  }
};
thread_local RecHolder t_rec_holder;

[[gnu::noinline]] ThreadRec* new_thread_rec() noexcept {
  RecPool& p = rec_pool();
  ThreadRec* r = nullptr;
  {
    LockGuard g(p.lock);
    if ((r = p.free) != nullptr) p.free = r->next_free;
  }
  if (r == nullptr) r = new (std::nothrow) ThreadRec;
  if (r == nullptr) return nullptr;  // no record: this thread's waits just do not spin for it
  r->next_free = nullptr;
  r->spin_budget_ns = 0;
  r->cpu.store(-1, std::memory_order_relaxed);
  r->state.store(ThreadRec::running, std::memory_order_relaxed);
  t_rec_holder.r = r;
  t_rec = r;
  return r;
}

}  // namespace

ThreadRec* this_thread_rec() noexcept {
  if (ThreadRec* r = t_rec) [[likely]]
    return r;
  return new_thread_rec();
}

// Only the parked / not-parked distinction is published, on the way in and
// out of the kernel: partners treat running and spinning alike, and a store
// per spin would pull the record's line back from the partner reading it.
void Waiter::park() noexcept {
  if (spin_for_wake(*this, 0)) return;
  bool slept = false;
  for (;;) {
    std::uint32_t v = woke.load(std::memory_order_acquire);
    if (v == kWoken) break;
    if (!slept) {
      publish(me, ThreadRec::parked);
      slept = true;
    }
    if (v == kRunning && !woke.compare_exchange_strong(v, kAsleep, std::memory_order_acq_rel)) continue;
    futex(&woke, FUTEX_WAIT_PRIVATE, kAsleep, nullptr);
  }
  if (slept) {
    publish_cpu(me);
    publish(me, ThreadRec::running);
  }
}

bool Waiter::park_until(std::uint64_t deadline_ns) noexcept {
  if (spin_for_wake(*this, deadline_ns)) return true;
  bool woken = false, slept = false;
  for (;;) {
    std::uint32_t v = woke.load(std::memory_order_acquire);
    if (v == kWoken) {
      woken = true;
      break;
    }
    const std::uint64_t now = now_ns();
    if (now >= deadline_ns) break;
    if (!slept) {
      publish(me, ThreadRec::parked);
      slept = true;
    }
    if (v == kRunning && !woke.compare_exchange_strong(v, kAsleep, std::memory_order_acq_rel)) continue;
    const std::uint64_t left = deadline_ns - now;
    timespec ts{static_cast<time_t>(left / 1000000000u), static_cast<long>(left % 1000000000u)};
    futex(&woke, FUTEX_WAIT_PRIVATE, kAsleep, &ts);
  }
  if (slept) {
    publish_cpu(me);
    publish(me, ThreadRec::running);
  }
  return woken;
}

bool spin_until(ThreadRec* partner, bool (*ready)(const void*), const void* arg) noexcept {
  if (partner == nullptr) return false;
  return partner_spin(this_thread_rec(), partner, 0, [&] { return ready(arg); });
}

void futex_wake(std::atomic<std::uint32_t>* a) noexcept { futex(a, FUTEX_WAKE_PRIVATE, 1, nullptr); }

std::uint32_t fast_rand(std::uint32_t n) noexcept {
  thread_local std::uint64_t x = 0x9E3779B97F4A7C15ull ^ reinterpret_cast<std::uintptr_t>(&x) ^ now_ns();
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return static_cast<std::uint32_t>((x >> 32) * n >> 32);
}

namespace {

struct WaitRecord {
  WaitObject obj = WaitObject::select;
  std::uint64_t obj_id = 0;
  const char* label = nullptr;
  std::uint64_t done_ctx = 0;
};

WaitRecord describe(SelectCase* const* cs, std::size_t n, const WaitObject* obj, std::uint64_t obj_id,
                    const char* obj_label) noexcept {
  WaitRecord r;
  SelectCase* only = nullptr;
  std::size_t ops = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (cs[i]->is_default) continue;
    if (std::uint64_t d = cs[i]->done_ctx()) {
      if (r.done_ctx == 0) r.done_ctx = d;
      continue;
    }
    if (++ops == 1) only = cs[i];
  }
  if (obj != nullptr) {
    r.obj = *obj;
    r.obj_id = obj_id;
    r.label = obj_label;
  } else if (ops == 1) {
    r.obj = only->object();
    r.obj_id = only->object_id();
    r.label = only->label();
  } else if (ops == 0) {
    r.obj = WaitObject::done;
  } else {
    r.obj = WaitObject::select;
    r.obj_id = only->object_id();
  }
  return r;
}

void emit_wait(EventSink* s, EventType t, std::uint64_t wait_id, const WaitRecord& r, std::size_t n,
               std::source_location site, std::uint64_t idx, WaitOutcome out) noexcept {
  Event e;
  e.type = t;
  e.id = wait_id;
  if (t == EventType::wait_begin) {
    e.ref = r.done_ctx;
    e.value = r.obj_id;
    e.kind = static_cast<std::uint8_t>(r.obj);
    e.aux = static_cast<std::uint8_t>(n > 255 ? 255 : n);
    e.text = r.label;
    e.site = site;
  } else {
    e.value = idx;
    e.kind = static_cast<std::uint8_t>(out);
  }
  emit_to(s, e);
}

}  // namespace

std::uint64_t record_wait_begin(EventSink* s, WaitObject obj, std::uint64_t obj_id, const char* label,
                                std::source_location site) noexcept {
  WaitRecord r;
  r.obj = obj;
  r.obj_id = obj_id;
  r.label = label;
  const std::uint64_t wid = next_object_id();
  emit_wait(s, EventType::wait_begin, wid, r, 1, site, 0, WaitOutcome::value);
  return wid;
}

void record_wait_end(EventSink* s, std::uint64_t wait_id, WaitOutcome out) noexcept {
  emit_wait(s, EventType::wait_end, wait_id, WaitRecord{}, 1, {}, 0, out);
}

std::size_t select_impl(SelectCase* const* cs, std::size_t n, std::uint64_t deadline_ns,
                        const WaitObject* obj, std::uint64_t obj_id, const char* obj_label) {
  // 1. lock every distinct lock in address order
  std::array<Lock*, 16> small_locks;
  std::vector<Lock*> big_locks;
  Lock** locks = small_locks.data();
  if (n > small_locks.size()) {
    big_locks.resize(n);
    locks = big_locks.data();
  }
  std::size_t nl = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (Lock* l = cs[i]->lock()) locks[nl++] = l;
  if (nl > 1) {
    std::sort(locks, locks + nl);
    nl = static_cast<std::size_t>(std::unique(locks, locks + nl) - locks);
  }
  for (std::size_t i = 0; i < nl; ++i) locks[i]->lock();
  auto unlock_all = [&] {
    for (std::size_t i = nl; i-- > 0;) locks[i]->unlock();
  };

  std::array<std::uint32_t, 16> small_order;
  std::vector<std::uint32_t> big_order;
  std::uint32_t* order = small_order.data();
  if (n > small_order.size()) {
    big_order.resize(n);
    order = big_order.data();
  }
  Waiter w;
  bool waited = false;  // a wait was begun (and recorded, if s != nullptr)
  EventSink* s = nullptr;
  WaitRecord rec;
  std::uint64_t wid = 0;
  bool locked = true;
  for (;;) {  // one round per retry (step 6) or busy poll
    if (!locked)
      for (std::size_t i = 0; i < nl; ++i) locks[i]->lock();
    locked = true;

    // 2. poll in a random permutation: the first ready case is a uniform pick
    order[0] = 0;  // one case: no random draw
    for (std::size_t i = 1; i < n; ++i) {
      std::size_t j = fast_rand(static_cast<std::uint32_t>(i + 1));
      order[i] = order[j];
      order[j] = static_cast<std::uint32_t>(i);
    }
    int chosen = -1, dflt = -1;
    bool busy = false;
    try {
      for (std::size_t k = 0; k < n; ++k) {
        SelectCase* c = cs[order[k]];
        if (c->is_default) {
          dflt = static_cast<int>(order[k]);
          continue;
        }
        if (c->try_now()) {
          chosen = static_cast<int>(order[k]);
          break;
        }
        busy = busy || c->busy();
      }
    } catch (...) {
      unlock_all();
      if (waited && s != nullptr)
        emit_wait(s, EventType::wait_end, wid, rec, n, {}, n, WaitOutcome::value);
      throw;
    }
    if (chosen < 0 && busy) {  // half-done operations of other threads: wait them out unlocked
      unlock_all();
      locked = false;
      for (std::size_t i = 0; i < n; ++i)
        if (cs[i]->busy()) cs[i]->settle();
      continue;
    }
    if (chosen >= 0 || dflt >= 0) {
      unlock_all();
      if (chosen >= 0) {
        if (waited) {
          // A retry round completed it: the wait recorded in the first round ends here.
          if (s != nullptr)
            emit_wait(s, EventType::wait_end, wid, rec, n, {}, static_cast<std::uint64_t>(chosen),
                      cs[chosen]->outcome());
        } else if (cs[chosen]->done_ctx() != 0) {
          // A ctx-aware operation that finds its context already done is worth a
          // record even though it did not block: it is the evidence of
          // use-after-cancel (a premature cancel).
          if (EventSink* es = sink()) {
            WaitRecord r = describe(cs, n, obj, obj_id, obj_label);
            const std::uint64_t id = next_object_id();
            emit_wait(es, EventType::wait_begin, id, r, n, cs[0]->site, 0, WaitOutcome::value);
            emit_wait(es, EventType::wait_end, id, r, n, cs[0]->site, static_cast<std::uint64_t>(chosen),
                      WaitOutcome::done);
          }
        }
        cs[chosen]->finish();
        return static_cast<std::size_t>(chosen);
      }
      return static_cast<std::size_t>(dflt);
    }

    // 3. enqueue everywhere and park
    if (waited) w.reset();
    else w.me = this_thread_rec();
    for (std::size_t i = 0; i < n; ++i)
      if (cs[i]->lock() != nullptr) cs[i]->enqueue(&w, static_cast<int>(i));
    unlock_all();
    locked = false;
    for (std::size_t i = 0; i < n; ++i)
      if (cs[i]->lock() == nullptr && !cs[i]->is_default) cs[i]->enqueue(&w, static_cast<int>(i));

    if (!waited) {
      waited = true;
      s = sink();
      if (s != nullptr) {
        rec = describe(cs, n, obj, obj_id, obj_label);
        wid = next_object_id();
        emit_wait(s, EventType::wait_begin, wid, rec, n, cs[0]->site, 0, WaitOutcome::value);
      }
    }

    bool expired = false;
    if (deadline_ns != 0) {
      if (!w.park_until(deadline_ns)) {
        if (w.try_fire(static_cast<int>(n))) expired = true;
        else w.park();  // a case fired concurrently: wait for its transfer to complete
      }
    } else {
      w.park();
    }
    const int fired = w.fired.load(std::memory_order_acquire);

    // 4. leave every other queue
    for (std::size_t i = 0; i < n; ++i)
      if (static_cast<int>(i) != fired) cs[i]->dequeue();

    // 6. woken to poll again
    if (!expired && cs[fired]->retry()) {
      cs[fired]->settle();
      continue;
    }

    if (s != nullptr)
      emit_wait(s, EventType::wait_end, wid, rec, n, {}, expired ? n : static_cast<std::uint64_t>(fired),
                expired ? WaitOutcome::timeout : cs[fired]->outcome());
    if (expired) return timed_out;
    cs[fired]->finish();
    return static_cast<std::size_t>(fired);
  }
}

}  // namespace ctxscope::detail
