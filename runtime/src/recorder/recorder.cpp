// The recorder: an EventSink that turns runtime events into a SQLite trace.
//
// Hot path (any thread, on_event): copy the 64-byte Event into the calling
// thread's own SPSC ring (plus raw stack frames when stacks are on).  No lock,
// no SQLite, no allocation once the ring exists.  A full ring makes the producer
// wait (bounded) for the recorder, or, in drop mode, drop and count.
//
// Recorder thread (one): drains every ring in passes (woken when a ring passes
// half full, by a barrier, or every 10 ms; never chasing producers), merges
// the events into the rows of a batch and hands the batch to the writer's SQL
// thread (TraceWriter) at least every 50 ms, at every flush() barrier (which
// waits for its commit) and at stop().  It symbolizes and deduplicates stacks
// and sites.  A thread_local guard keeps the recorder from recording itself.
//
// Lifetime: the sink, the rings and the registry are never destroyed (detached
// threads may emit until the very end of the process); a ring whose thread has
// exited is pooled by the recorder once drained (reused by the next new thread).
//
// fork(): recording is off in the child (it never touches the parent's file or
// connection); the child may start its own trace.
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "ctxscope/detail/events.hpp"
#include "ctxscope/trace.hpp"
#include "ctxscope/trace_schema.hpp"
#include "ctxscope/version.hpp"
#include "recorder/give_way.hpp"
#include "recorder/recorder_internal.hpp"
#include "recorder/stack_capture.hpp"
#include "recorder/trace_writer.hpp"


namespace ctxscope::trace {
namespace {

using ctxscope::detail::now_ns;

constexpr std::uint64_t kRingCap = detail::kRingCapacity;  // events per thread (128 KiB); power of two
static_assert((kRingCap & (kRingCap - 1)) == 0);
constexpr int kMaxFrames = 64;
// The runtime's own frames on top of every capture (capture_stack, push_slow,
// on_event, the probe's sink when it tees, emit_create_to / the cancel path,
// the API entry: with_cancel, CancelFunc::operator()), stripped by name at
// symbolization: captured in addition to the frames asked for.
// Without optimization (a Debug build of the runtime) nothing is inlined and
// the path is twice as deep.
#if defined(__OPTIMIZE__)
constexpr int kInternalFrames = 6;
#else
constexpr int kInternalFrames = 12;
#endif
constexpr std::uint64_t kProducerWaitNs = 5'000'000'000;  // bounded wait before a full ring drops
constexpr std::uint64_t kCommitEveryNs = 50'000'000;      // issue: at least every 100 ms
constexpr long kTickNs = 10'000'000;

// A slot holds an Event's bytes.  Raw bytes, so that a new ring is not
// value-initialized: its 128 KiB are touched (faulted in) only as they are used.
struct alignas(64) Slot {
  unsigned char bytes[sizeof(Event)];
};
static_assert(sizeof(Slot) == 64 && std::is_trivially_copyable_v<Event>);

struct Ring {
  alignas(64) std::atomic<std::uint64_t> head{0};  // written by the producer
  // 1 while the producer is inside on_event past its check of g.active (on the
  // producer's own line, next to head): stop() waits for 0 before the final
  // drain, so an event that raced with stop() lands in its own file instead of
  // staying in the ring for the next recording (issue 18 item 9).
  std::atomic<std::uint32_t> busy{0};
  alignas(64) std::atomic<std::uint64_t> tail{0};  // written by the recorder
  alignas(64) std::uint64_t cached_tail = 0;       // producer's private view of tail
  std::atomic<bool> dead{false};                   // producer thread has exited
  std::uint8_t nframes[kRingCap] = {};
  // kRingCap * frames_stride return addresses, allocated by the producer when
  // it first captures in a recording whose stride differs (every recording's
  // events were drained by its stop, so nothing still points into the old one).
  const void** frames = nullptr;
  int frames_stride = 0;
  Slot slots[kRingCap];
};

// Rings of exited threads, drained, kept for the next threads (a program that
// starts goroutine-like threads per request would otherwise allocate, fault in
// and free 130 KiB per thread: +5% on the fan-out benchmark).  Under g_reg_mu.
// A ring returns to the pool only when the recorder drains it: where threads
// start and exit faster than the recorder's tick (a suite of small tests under
// the probe starts one every 40 µs: hundreds would exit between two drains,
// each next thread paying an mmap, a munmap and page faults: +15% on the whole
// suite), every kWakeAfterDead exits wake the recorder to drain and pool them.
constexpr std::size_t kPooledRings = 64;
constexpr std::uint32_t kWakeAfterDead = 16;
std::atomic<std::uint32_t> g_dead_undrained{0};

// Registry of rings.  The mutex is taken by a thread once (registration) and by
// the recorder per poll, never on the per-event path.
std::mutex g_reg_mu;
std::vector<Ring*>* g_rings = nullptr;      // leaked on purpose
std::vector<Ring*>* g_free_rings = nullptr;  // leaked on purpose

// Events emitted by a thread after its thread_local ring owner was destroyed
// (other thread_local destructors) go to this shared ring under a lock: rare.
std::mutex g_orphan_mu;
Ring* g_orphan = nullptr;

// Per-thread state, one TLS block read with one access on the hot path.
// initial-exec: a direct %fs-relative load instead of a __tls_get_addr call
// (the runtime is compiled as PIC); the block is a few bytes.
struct ThreadState {
  Ring* ring = nullptr;
  bool in_recorder = false;  // the recorder thread: never records itself
  bool ring_gone = false;    // its RingOwner was destroyed (thread exiting)
};
__attribute__((tls_model("initial-exec"))) thread_local ThreadState t_state;

void wake_recorder();

struct RingOwner {
  Ring* r = nullptr;
  ~RingOwner() {
    if (r) {
      r->dead.store(true, std::memory_order_release);
      // Many exited threads' rings waiting: let the recorder drain and pool them.
      if (g_dead_undrained.fetch_add(1, std::memory_order_relaxed) + 1 >= kWakeAfterDead) wake_recorder();
    }
    t_state.ring = nullptr;
    t_state.ring_gone = true;
  }
};
thread_local RingOwner t_owner;

// Shared state of the recorder.  Constant-initialized so that the environment
// autostart (another TU's static initializer) can use it in any order.  Grouped
// by who writes what, one cache line per group: the fields every event reads
// never share a line with what the recorder thread writes, or each recorder
// wake-up would cost every producer a cache miss.
struct State {
  // Read by every event, written only by start/stop.
  alignas(64) std::atomic<bool> active{false};
  std::atomic<bool> drop_mode{false};
  std::atomic<int> stack_frames{0};
  // Written by producers, rarely (drop mode only).
  alignas(64) std::atomic<std::uint64_t> dropped{0};
  // The recorder's doorbell: producers bump it, the recorder sleeps on it.
  alignas(64) std::atomic<std::uint32_t> wake_word{0};
  std::atomic<bool> sleeping{false};
  // Barriers and control.
  alignas(64) std::atomic<std::uint64_t> flush_req{0};
  std::atomic<std::uint64_t> flush_done{0};
  std::atomic<bool> stop_req{false};
  std::atomic<bool> paused{false};
  std::atomic<bool> running{false};  // a recorder thread exists (in this process)
  std::atomic<int> owner_pid{0};
  std::mutex control_mu;
  std::thread* thread = nullptr;
  int lock_fd = -1;
};
constinit State g;

void futex_wake(std::atomic<std::uint32_t>* w) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}
void futex_wait(std::atomic<std::uint32_t>* w, std::uint32_t val, long ns) {
  timespec ts{ns / 1000000000, ns % 1000000000};
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), FUTEX_WAIT_PRIVATE, val, &ts, nullptr, 0);
}

// Rings the recorder's doorbell.  The bump is unconditional, so a recorder that
// is mid-pass sees it when it goes to sleep (its futex_wait compares against the
// word it read before the pass) and does not sleep; the syscall is paid only
// when it is actually asleep.
void wake_recorder() {
  g.wake_word.fetch_add(1, std::memory_order_seq_cst);
  if (g.sleeping.load(std::memory_order_seq_cst)) futex_wake(&g.wake_word);
}

Ring* register_ring() {
  Ring* r = nullptr;
  {
    std::lock_guard lk(g_reg_mu);
    if (!g_rings) g_rings = new std::vector<Ring*>;
    if (g_free_rings && !g_free_rings->empty()) {
      r = g_free_rings->back();  // drained: head == tail, nframes all 0
      g_free_rings->pop_back();
      r->cached_tail = r->tail.load(std::memory_order_relaxed);
      r->dead.store(false, std::memory_order_relaxed);
    }
  }
  if (!r) r = new Ring;
  {
    std::lock_guard lk(g_reg_mu);
    g_rings->push_back(r);
  }
  t_owner.r = r;
  t_state.ring = r;
  return r;
}

bool wants_stack(const Event& e) {
  return e.type == EventType::ctx_create ||
         (e.type == EventType::ctx_cancel && e.kind == static_cast<std::uint8_t>(CancelReason::explicit_call));
}

// Waits for room in `r` (the producer's own ring).  False: give up and drop.
// A stop() in progress is no reason to give up: stop waits for this push, and
// the recorder drains until the final pass.
bool wait_for_space(Ring* r, std::uint64_t h) {
  if (g.drop_mode.load(std::memory_order_relaxed)) return false;
  const std::uint64_t deadline = now_ns() + kProducerWaitNs;
  for (int spin = 0;; ++spin) {
    wake_recorder();
    r->cached_tail = r->tail.load(std::memory_order_acquire);
    if (h - r->cached_tail < kRingCap) return true;
    if (!g.running.load(std::memory_order_relaxed)) return false;
    if (spin < 16) {
      std::this_thread::yield();
    } else {
      if (now_ns() > deadline) return false;
      timespec ts{0, 50'000};
      nanosleep(&ts, nullptr);
    }
  }
}

// Slow path of push: ring full (wait or drop), or a stack to capture (`capture`).
[[gnu::noinline]] void push_slow(Ring* r, const Event& e, std::uint64_t h, bool full, bool capture) {
  if (full) {
    r->cached_tail = r->tail.load(std::memory_order_acquire);
    if (h - r->cached_tail >= kRingCap && !wait_for_space(r, h)) {
      g.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  const std::uint64_t i = h & (kRingCap - 1);
  std::memcpy(&r->slots[i], &e, sizeof e);
  if (capture) {
    // Addresses kept per event: the frames asked for and the runtime's own.
    const int stride = g.stack_frames.load(std::memory_order_relaxed) + kInternalFrames;
    if (r->frames_stride != stride) [[unlikely]] {
      delete[] r->frames;
      r->frames = new const void*[kRingCap * static_cast<std::size_t>(stride)];
      r->frames_stride = stride;
    }
    // Return addresses only; the recorder symbolizes each distinct one once.
    r->nframes[i] = static_cast<std::uint8_t>(detail::capture_stack(r->frames + i * stride, stride));
  }
  r->head.store(h + 1, std::memory_order_release);
  if (h + 1 - r->cached_tail == kRingCap / 2) wake_recorder();
}

// Asks for the line in exclusive state, ahead of the store.  GCC lowers
// __builtin_prefetch(p, 1) to PREFETCHW only when the target flags say the CPU has
// it, and to a plain PREFETCHT0 otherwise; a shared copy then still needs a second
// cross-core round trip at the store (measured: 57-94 ns per event instead of
// 8-13).  Every x86-64 CPU decodes PREFETCHW (older Intel parts as a no-op), so it
// is issued directly.
inline void prefetch_for_write(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1);
#endif
}

inline void push(Ring* r, const Event& e) {
  const std::uint64_t h = r->head.load(std::memory_order_relaxed);
  const bool full = h - r->cached_tail >= kRingCap;
  const bool capture = g.stack_frames.load(std::memory_order_relaxed) > 0 && wants_stack(e);
  if (full || capture) [[unlikely]] {
    push_slow(r, e, h, full, capture);
    return;
  }
  const std::uint64_t i = h & (kRingCap - 1);
  std::memcpy(&r->slots[i], &e, sizeof e);
  // The next slots were last read by the recorder on the other core: start
  // their read-for-ownership now so that the copy a few events later does not wait.
  prefetch_for_write(&r->slots[(i + 16) & (kRingCap - 1)]);
  r->head.store(h + 1, std::memory_order_release);
  if (h + 1 - r->cached_tail == kRingCap / 2) [[unlikely]] wake_recorder();
}

class Recorder final : public EventSink {
 public:
  constexpr Recorder() = default;
  void on_event(const Event& e) noexcept override {
    if (!g.active.load(std::memory_order_relaxed)) return;
    ThreadState& ts = t_state;
    Ring* r = ts.ring;
    if (r) [[likely]] {
      push_if_active(r, e);
      return;
    }
    on_event_slow(e);
  }

  // Asymmetric Dekker with stop(): the producer marks its ring busy, then
  // (re)reads g.active; stop() clears g.active, then a process-wide barrier
  // (membarrier) stands in for the producer's missing StoreLoad fence, then it
  // waits for every ring to be idle.  Either stop() sees busy, or the producer
  // sees active == false.  Hot path cost: two stores to the producer's own line.
  static void push_if_active(Ring* r, const Event& e) noexcept {
    r->busy.store(1, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (g.active.load(std::memory_order_relaxed)) [[likely]]
      push(r, e);
    r->busy.store(0, std::memory_order_release);
  }

 private:
  // First event of a thread, an event of the recorder itself, or of an exiting thread.
  [[gnu::noinline]] static void on_event_slow(const Event& e) noexcept {
    if (t_state.in_recorder) return;
    if (t_state.ring_gone) {
      // stop() takes this mutex after clearing g.active: a push under it
      // either finishes before or sees the flag cleared.
      std::lock_guard lk(g_orphan_mu);
      if (g.active.load(std::memory_order_relaxed)) push(g_orphan, e);
      return;
    }
    push_if_active(register_ring(), e);
  }
};
constinit Recorder g_recorder;

// --------------------------------------------------------- recorder loop ---

detail::TraceWriter* g_writer = nullptr;  // owned by start/stop
std::string* g_path = nullptr;              // what is recorded into; under g.control_mu (leaked on purpose)

struct DrainResult {
  std::size_t events = 0;
  bool complete = true;  // every ring was drained up to the head read in this pass
  bool backlog = false;  // a ring filled to a quarter or more while the pass ran
};

// Drains every ring once, starting at ring `*rotor`.  Stops early at
// `deadline_ns` (a commit is due), resuming at the next ring on the next pass
// so that no thread's ring is starved.
//
// Every ring's head is read first, then the writer takes a clock anchor, then
// the events up to those heads are written: each event of the pass was stamped
// before the anchor, so its timestamp converts by interpolation (TimeMap).
DrainResult drain_all(detail::TraceWriter& w, std::vector<Ring*>& snapshot, std::vector<std::uint64_t>& heads,
                      std::vector<char>& dead, std::uint64_t deadline_ns, std::size_t* rotor, detail::GiveWay& give_way) {
  snapshot.clear();
  {
    std::lock_guard lk(g_reg_mu);
    if (g_rings) snapshot = *g_rings;
  }
  snapshot.push_back(g_orphan);
  const std::size_t nrings = snapshot.size();
  heads.resize(nrings);
  dead.resize(nrings);
  for (std::size_t k = 0; k < nrings; ++k) {
    // dead before head: a ring whose thread had exited is drained to its last event.
    dead[k] = snapshot[k]->dead.load(std::memory_order_acquire) && snapshot[k] != g_orphan;
    heads[k] = snapshot[k]->head.load(std::memory_order_acquire);
  }
  w.anchor_clock();
  DrainResult res;
  for (std::size_t k = 0; k < nrings; ++k) {
    if (k > 0 && res.events > 0 && now_ns() >= deadline_ns) {
      res.complete = false;
      *rotor += k;
      break;
    }
    const std::size_t j = (*rotor + k) % nrings;
    Ring* r = snapshot[j];
    const std::uint64_t h = heads[j];
    std::uint64_t t = r->tail.load(std::memory_order_relaxed);
    while (t != h) {
      // Publish progress in chunks so that a waiting producer resumes early.
      const std::uint64_t end = std::min(h, t + kRingCap / 4);
      for (; t != end; ++t) {
        const std::uint64_t i = t & (kRingCap - 1);
        const int nf = r->nframes[i];
        const Event e = std::bit_cast<Event>(r->slots[i]);
        w.write(e, nf ? r->frames + i * r->frames_stride : nullptr, nf);
        if (nf) r->nframes[i] = 0;  // the producer writes nframes only for events with a stack
        ++res.events;
      }
      r->tail.store(t, std::memory_order_release);
      give_way.point();
    }
    if (dead[j]) {
      g_dead_undrained.fetch_sub(1, std::memory_order_relaxed);
      std::lock_guard lk(g_reg_mu);
      auto& v = *g_rings;
      v.erase(std::remove(v.begin(), v.end(), r), v.end());
      if (!g_free_rings) g_free_rings = new std::vector<Ring*>;
      if (g_free_rings->size() < kPooledRings) {
        g_free_rings->push_back(r);  // keeps its frames buffer, if any
      } else {
        delete[] r->frames;
        delete r;
      }
    }
  }
  // A producer that outpaces the recorder may not ring the doorbell again in
  // time (its view of the tail is stale): the next pass starts at once if the
  // last one left a ring a quarter full, so it never waits on a full ring for
  // the recorder's tick.
  if (res.complete)
    for (std::size_t j = 0; j < nrings && !res.backlog; ++j)
      if (!dead[j]) {
        Ring* r = snapshot[j];
        res.backlog = r->head.load(std::memory_order_relaxed) - r->tail.load(std::memory_order_relaxed) >= kRingCap / 4;
      }
  return res;
}

void recorder_main(detail::TraceWriter* w) {
  pthread_setname_np(pthread_self(), "ctxscope-drain");  // beside "ctxscope-sql" in top, gdb and perf
  t_state.in_recorder = true;
  std::vector<Ring*> snapshot;
  std::vector<std::uint64_t> heads;
  std::vector<char> dead;
  std::uint64_t last_commit = now_ns();
  bool pending = false;
  std::size_t rotor = 0;
  detail::GiveWay give_way(detail::g_give_way_yields_drain);
  give_way.begin();
  for (;;) {
    const bool stopping = g.stop_req.load(std::memory_order_acquire);
    const std::uint64_t freq = g.flush_req.load(std::memory_order_acquire);
    const std::uint32_t word = g.wake_word.load(std::memory_order_acquire);
    const bool paused = g.paused.load(std::memory_order_acquire) && !stopping;
    // A barrier or stop drains every ring in one pass; otherwise a pass yields
    // to the commit that is due.
    const bool must_complete = stopping || freq > g.flush_done.load(std::memory_order_relaxed);
    DrainResult d;
    if (!paused) d = drain_all(*w, snapshot, heads, dead, must_complete ? UINT64_MAX : last_commit + kCommitEveryNs, &rotor, give_way);
    const std::size_t n = d.events;
    pending = pending || n > 0;
    const std::uint64_t now = now_ns();
    // A barrier is acknowledged only after a complete pass that began after it was requested.
    const bool flush_wanted = !paused && d.complete && freq > g.flush_done.load(std::memory_order_relaxed);
    if (stopping && d.complete) {
      w->commit(true, g.dropped.load(std::memory_order_relaxed), /*wait=*/true);
      break;
    }
    // A commit hands the batch to the writer's SQL thread and drains on; a
    // barrier waits until what it covers is committed.
    if (pending && (flush_wanted || now - last_commit >= kCommitEveryNs)) {
      w->commit(false, g.dropped.load(std::memory_order_relaxed), /*wait=*/flush_wanted);
      last_commit = now_ns();  // after the commit: the next pass gets a full interval
      pending = false;
    } else if (flush_wanted) {
      w->sync();  // nothing new, but the last batch may still be on its way
    }
    if (flush_wanted) {
      g.flush_done.store(freq, std::memory_order_release);
      g.flush_done.notify_all();
    }
    // Batches, not a chase: after a complete pass the recorder sleeps until a
    // ring passes half full, a barrier or stop rings, or the tick (unless the
    // pass left a backlog: then producers outpace it and it goes on).  Draining
    // events the moment they are written would pull each ring line from under its
    // producer while still hot (a cross-core transfer per event; measured 30 ns
    // per event on the producer instead of 6), and gain nothing: throughput is
    // the same and the commit interval is what bounds what a crash loses.
    if ((d.complete && !d.backlog) || paused) {
      g.sleeping.store(true, std::memory_order_seq_cst);
      futex_wait(&g.wake_word, word, kTickNs);
      g.sleeping.store(false, std::memory_order_relaxed);
      give_way.begin();
    }
  }
  // Nobody waits forever on a barrier once the recorder is gone.
  g.flush_done.store(UINT64_MAX, std::memory_order_release);
  g.flush_done.notify_all();
}

void at_exit_stop() { stop(); }

// A full memory barrier on every thread of the process (the heavy side of the
// asymmetric fence in push_if_active): membarrier(PRIVATE_EXPEDITED), or, where
// the kernel or a seccomp filter refuses it, an mprotect of a touched page (the
// TLB shootdown interrupts every CPU that runs this process's threads).
bool g_membarrier_ok = false;
void process_wide_barrier() {
  if (g_membarrier_ok && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) return;
  static void* page = nullptr;
  const long ps = sysconf(_SC_PAGESIZE);
  if (!page) page = mmap(nullptr, static_cast<std::size_t>(ps), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    // Last resort, this thread's full fence only (a locked RMW; also what
    // TSan understands, unlike atomic_thread_fence).
    static std::atomic<int> fence_word{0};
    fence_word.fetch_add(0, std::memory_order_seq_cst);
    return;
  }
  *static_cast<volatile char*>(page) = 1;
  mprotect(page, static_cast<std::size_t>(ps), PROT_READ);
  mprotect(page, static_cast<std::size_t>(ps), PROT_READ | PROT_WRITE);
}

// After g.active was cleared: waits until no producer is inside a push (the
// recorder thread keeps draining meanwhile, so a producer waiting for room
// finishes).
void wait_for_producers() {
  process_wide_barrier();
  { std::lock_guard lk(g_orphan_mu); }
  std::vector<Ring*> rings;
  {
    std::lock_guard lk(g_reg_mu);
    if (g_rings) rings = *g_rings;
  }
  for (Ring* r : rings)
    while (r->busy.load(std::memory_order_acquire) != 0) {
      wake_recorder();
      std::this_thread::yield();
    }
}

void atfork_prepare() {
  g_reg_mu.lock();
  g_orphan_mu.lock();
}
void atfork_parent() {
  g_orphan_mu.unlock();
  g_reg_mu.unlock();
}
// The child has only the forking thread: forget the parent's recorder, rings and
// connection without touching them (closing the connection could checkpoint or
// delete the parent's WAL).
void atfork_child() {
  new (&g_orphan_mu) std::mutex;
  new (&g_reg_mu) std::mutex;
  g.active.store(false);
  g.running.store(false);
  g.thread = nullptr;
  g_writer = nullptr;
  g.lock_fd = -1;  // inherited (CLOEXEC only matters for exec); never used by the child
  g_rings = new std::vector<Ring*>;
  g_free_rings = nullptr;  // the parent's pool stays with the parent
  g_dead_undrained.store(0, std::memory_order_relaxed);
  g_orphan = new Ring;
  t_state.ring = nullptr;  // the parent's ring of this thread stays with the parent's (dead) recorder
  t_owner.r = nullptr;
  new (&g.control_mu) std::mutex;
}

// An exception escaping a go() thread (or any std::terminate) aborts the process
// without atexit: commit what was recorded first (no end marker: the run did not
// end cleanly), then let the previous handler report and abort.
std::terminate_handler g_prev_terminate = nullptr;
[[noreturn]] void on_terminate() {
  flush();
  if (g_prev_terminate) g_prev_terminate();
  std::abort();
}

std::once_flag g_once;
void init_once() {
  std::call_once(g_once, [] {
    g_orphan = new Ring;
    std::atexit(at_exit_stop);
    g_prev_terminate = std::set_terminate(on_terminate);
    g_membarrier_ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  });
}

}  // namespace

namespace {
// The recorder's side of a start, once the destination is ready: `fd` is the
// locked trace file (-1 for an in-memory trace).  Under g.control_mu.
bool start_writer(const std::string& path, bool in_memory, int fd, const Options& opts, std::string* err) {
  const std::uint64_t t0 = now_ns();
  auto* w = new detail::TraceWriter;
  const int frames = std::clamp(opts.stack_frames, 0, kMaxFrames);
  g.dropped.store(0);
  // The event clock is chosen while nothing is recorded (events stamped before
  // the sink is installed are not recorded).
  const bool tsc = opts.fast_clock && ctxscope::detail::tsc_event_clock_supported();
  ctxscope::detail::g_event_clock_tsc.store(tsc, std::memory_order_relaxed);
  if (!w->open(path, in_memory, t0, frames, opts.drop_when_full, tsc, err)) {
    delete w;
    if (fd >= 0) ::close(fd);
    return false;
  }
  g_writer = w;
  if (!g_path) g_path = new std::string;
  *g_path = in_memory ? "memory:" + path : path;
  g.lock_fd = fd;
  if (frames > 0) detail::init_unwinder();  // dlopen here, never on a producer's path
  g.stack_frames.store(frames);
  g.drop_mode.store(opts.drop_when_full);
  g.stop_req.store(false);
  g.flush_done.store(g.flush_req.load());
  g.owner_pid.store(getpid());
  g.running.store(true);
  g.thread = new std::thread(recorder_main, w);
  g.active.store(true, std::memory_order_release);
  install_event_sink(&g_recorder);
  return true;
}
}  // namespace

bool start_in_memory(const std::string& name, const Options& opts, std::string* err) {
  init_once();
  std::lock_guard lk(g.control_mu);
  if (g.running.load()) {
    if (err) *err = "memory:" + name + ": cannot start: this process is already recording a trace";
    return false;
  }
  if (name.empty() || name.find_first_of("/?#%") != std::string::npos) {
    if (err) *err = "memory:" + name + ": cannot start: an in-memory trace name is non-empty without / ? # %";
    return false;
  }
  return start_writer(name, true, -1, opts, err);
}

bool start(const std::string& path, const Options& opts, std::string* err) {
  init_once();
  std::lock_guard lk(g.control_mu);
  if (g.running.load()) {
    if (err) *err = path + ": cannot start: this process is already recording a trace";
    return false;
  }
  // O_NOFOLLOW: a symlink at the path is refused, never followed to replace
  // its target.  O_NONBLOCK: a FIFO must not block the program here (it is
  // refused below as not a regular file).
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0) {
    const int e = errno;
    struct stat lsb{};
    if (e == ELOOP && ::lstat(path.c_str(), &lsb) == 0 && S_ISLNK(lsb.st_mode)) {
      if (err) *err = path + ": refusing to trace into a symbolic link (its target is never replaced); give the real path";
    } else if (err) {
      *err = path + ": cannot create trace: " + std::strerror(e);
    }
    return false;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (err) *err = path + ": cannot create trace: another process is recording into it";
    ::close(fd);
    return false;
  }
  // Only an empty file or a ctxscope trace is replaced: anything else at the
  // path is the user's data (issue 18: a text file, another program's SQLite
  // database).
  if (std::string why = detail::replaceable_trace(fd, path); !why.empty()) {
    if (err) *err = path + ": refusing to overwrite: " + why;
    ::close(fd);
    return false;
  }
  if (ftruncate(fd, 0) != 0) {
    if (err) *err = path + ": cannot create trace: " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  // The old trace's WAL and index go with it (replaceable_trace checked that a
  // -wal beside an empty main file is a ctxscope trace's too).
  ::unlink((path + "-wal").c_str());
  ::unlink((path + "-shm").c_str());
  return start_writer(path, false, fd, opts, err);
}

void stop() {
  std::lock_guard lk(g.control_mu);
  if (!g.running.load() || g.owner_pid.load() != getpid()) return;
  if (!t_state.in_recorder) flush();  // everything emitted before stop() is in the file
  g.active.store(false, std::memory_order_seq_cst);
  // The final drain must come after every push that saw g.active set; a paused
  // recorder (test hook) would never let a producer waiting for room finish.
  g.paused.store(false, std::memory_order_release);
  if (!t_state.in_recorder) wait_for_producers();
  EventSink* expected = &g_recorder;
  ctxscope::detail::g_sink.compare_exchange_strong(expected, nullptr);
  g.stop_req.store(true, std::memory_order_release);
  wake_recorder();
  g.thread->join();
  delete g.thread;
  g.thread = nullptr;
  g_writer->close();
  delete g_writer;
  g_writer = nullptr;
  if (g.lock_fd >= 0) ::close(g.lock_fd);
  g.lock_fd = -1;
  g.running.store(false);
}

void flush() {
  if (!g.running.load(std::memory_order_acquire) || t_state.in_recorder) return;
  if (g.owner_pid.load(std::memory_order_relaxed) != getpid()) return;
  const std::uint64_t mine = g.flush_req.fetch_add(1, std::memory_order_acq_rel) + 1;
  wake_recorder();
  for (;;) {
    const std::uint64_t done = g.flush_done.load(std::memory_order_acquire);
    if (done >= mine) return;
    g.flush_done.wait(done, std::memory_order_acquire);
  }
}

bool active() noexcept { return g.active.load(std::memory_order_acquire); }

std::string current_path() {
  std::lock_guard lk(g.control_mu);
  return g.running.load() && g_path ? *g_path : std::string();
}

unsigned long long events_dropped() noexcept { return g.dropped.load(std::memory_order_relaxed); }

namespace detail {
EventSink* recorder_sink() noexcept { return &g_recorder; }
std::atomic<std::uint64_t> g_give_way_yields_drain{0}, g_give_way_yields_sql{0};
std::uint64_t give_way_yields(bool sql_thread) noexcept {
  return (sql_thread ? g_give_way_yields_sql : g_give_way_yields_drain).load(std::memory_order_relaxed);
}

void pause_for_test(bool paused) noexcept {
  g.paused.store(paused, std::memory_order_release);
  wake_recorder();
}

bool start_from_environment() {
  const char* path = std::getenv("CTXSCOPE_TRACE");
  if (!path || !*path) return false;
  std::string p = path;
  for (std::size_t i; (i = p.find("%p")) != std::string::npos;) p.replace(i, 2, std::to_string(getpid()));
  Options o;
  if (const char* s = std::getenv("CTXSCOPE_STACKS"); s && *s) {
    char* end = nullptr;
    const long n = std::strtol(s, &end, 10);
    if (*end || n < 0 || n > kMaxFrames)
      std::fprintf(stderr, "ctxscope: CTXSCOPE_STACKS=%s: expected 0 (off) to %d frames; using %d\n", s, kMaxFrames,
                   o.stack_frames);
    else
      o.stack_frames = static_cast<int>(n);
  }
  if (const char* s = std::getenv("CTXSCOPE_DROP")) o.drop_when_full = std::atoi(s) != 0;
  if (const char* s = std::getenv("CTXSCOPE_CLOCK")) {
    if (std::strcmp(s, "monotonic") == 0) {
      o.fast_clock = false;
    } else if (std::strcmp(s, "tsc") != 0 && *s) {
      std::fprintf(stderr, "ctxscope: CTXSCOPE_CLOCK=%s: unknown clock (tsc or monotonic); using tsc where supported\n", s);
    }
  }
  std::string err;
  if (!start(p, o, &err)) {
    std::fprintf(stderr, "ctxscope: %s\n", err.c_str());
    return false;
  }
  return true;
}
}  // namespace detail

}  // namespace ctxscope::trace
