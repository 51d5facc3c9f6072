// ctxscope/analysis/trace_model.hpp — the one in-memory picture of a recorded run.
//
// The CLI, the probe and the viewer all read a trace through this model (and
// get their verdicts from the one rule engine, analyzer.hpp); none of them
// queries the schema ad hoc.  The model holds the entities of the trace —
// contexts with their tree, threads, waits, sites, stacks — and the edges the
// trace implies: from each cancel to every wait it woke, and from each cancel
// to every wait that should have noticed it and did not (a blind wait: the gap
// where an arrow should be).
//
//   TraceModel m = TraceModel::load(reader.db());      // whole file, one snapshot
//   for (std::uint32_t i : m.roots()) walk(m, i);       // background, todo (and orphans)
//   ModelDelta d = m.update(reader.db());               // live trace: rows committed since
//
// Times are the trace's own: nanoseconds relative to the run start
// (docs/trace-schema.md), the same base as Finding::times.  A time that did
// not happen is kNoTime.  Entities are addressed by INDEX into the model's
// arrays (stable: update() only appends and edits in place); `find_*` maps a
// trace id to an index.  The arrays are ChunkedVectors (chunked_vector.hpp):
// an update never moves what is there, and a copy of the model shares every
// chunk with the original until one of them writes it.
//
// Enumeration codes are the file's: names come from the file's own `enums`
// table (name_of), so an older reader shows a newer file's new code by name.
//
// Thread safety: a TraceModel is a value; const member functions may be
// called from any number of threads while nobody calls update() on the same
// model.  A copy is another model: one thread may update() the original while
// others read the copy (they share only chunks neither writes).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ctxscope/analysis/chunked_vector.hpp"
#include "ctxscope/analysis/finding.hpp"  // Site

struct sqlite3;

namespace ctxscope::analysis {

inline constexpr std::int64_t kNoTime = std::numeric_limits<std::int64_t>::min();
inline constexpr std::uint32_t kNoIndex = std::numeric_limits<std::uint32_t>::max();
inline constexpr std::uint8_t kNoCode = 0xff;

/// Context kind codes (trace enumeration `kind`).
enum class ContextKind : std::uint8_t {
  background = 0, todo = 1, cancel = 2, timeout = 3, deadline = 4, cause = 5, without_cancel = 6, value = 7
};

/// What a context is at one instant.  `leaked` is not a state of the trace:
/// it is a rule's verdict (lost-cancel) that consumers overlay from the Report.
enum class ContextState : std::uint8_t {
  not_created,         ///< t is before its creation
  live,                ///< created, not done, not released
  cancelled_explicit,  ///< done: its own cancel func was called
  cancelled_by_parent, ///< done: an ancestor's cancel reached it
  deadline_exceeded,   ///< done: its own deadline fired
  born_done,           ///< done from birth (derived from a done parent)
  released,            ///< unregistered without being cancelled (last handle destroyed)
};
std::string_view to_string(ContextState) noexcept;

/// What a wait is at one instant.
enum class WaitState : std::uint8_t {
  not_begun,
  blocked,      ///< began, not ended (at t)
  ended_value,  ///< ended by a value / close / default / timeout
  ended_done,   ///< ended because the context it observed was done
};

struct Context {
  std::uint64_t id = 0;
  std::uint64_t parent_id = 0;           ///< 0: none (background, todo)
  std::uint32_t parent = kNoIndex;       ///< index of the parent in contexts()
  std::vector<std::uint32_t> children;   ///< indices, in order of creation
  std::uint8_t kind = kNoCode;           ///< ContextKind code (name_of("kind", kind))
  std::uint32_t thread = 0;              ///< creating thread id
  std::int64_t created_ns = kNoTime;
  std::uint32_t site = kNoIndex;         ///< index into sites()
  std::uint32_t stack = kNoIndex;        ///< index into stacks()
  std::int64_t deadline_ns = kNoTime;
  bool registered = false;
  std::string label;                     ///< key name of a value context
  // Done: when and why.  A context cancelled by propagation has its origin's time.
  std::int64_t cancel_ns = kNoTime;
  std::uint8_t cancel_reason = kNoCode;  ///< 0 explicit, 1 parent, 2 deadline, 3 born_done
  std::uint8_t err = kNoCode;            ///< errc code: 1 canceled, 2 deadline_exceeded
  std::uint32_t cancel_origin = kNoIndex;///< reason parent: the ancestor whose cancel began the wave
  std::uint32_t cancel_thread = 0;
  std::uint32_t cancel_site = kNoIndex;
  std::uint32_t cancel_stack = kNoIndex;
  // The owner's cancel call (may come after the context was already done).
  std::int64_t cancel_called_ns = kNoTime;
  std::uint32_t cancel_called_site = kNoIndex;
  // Lost cancel: the last CancelFunc copy destroyed uncalled.
  std::int64_t dropped_ns = kNoTime;
  std::uint32_t dropped_thread = 0;
  bool dropped_when_done = false;
  // Unregistered from its parent.
  std::int64_t released_ns = kNoTime;
  std::uint8_t release_reason = kNoCode; ///< 0 own_cancel, 1 parent, 2 destroyed
  std::int64_t done_observed_ns = kNoTime;
  std::uint32_t test = 0;                ///< owning test (tests.id; TraceModel::find_test), 0: none

  bool cancelable() const noexcept { return kind >= 2 && kind <= 5; }
  bool done_at(std::int64_t t) const noexcept { return cancel_ns != kNoTime && cancel_ns <= t; }
};

struct Thread {
  std::uint32_t id = 0;
  std::string name;                      ///< go() name, runtime name ("ctxscope-timer"), or empty (main)
  std::uint64_t ctx_id = 0;              ///< context go() was given; 0: not a go() thread
  std::uint32_t ctx = kNoIndex;          ///< its index
  std::uint32_t effective_ctx = kNoIndex;///< the cancelable context whose done ends its work (value contexts skipped)
  std::uint32_t parent_thread = 0;
  std::int64_t spawn_ns = kNoTime;
  std::uint32_t spawn_site = kNoIndex;
  std::int64_t exit_ns = kNoTime;
  std::int64_t first_ns = kNoTime;
  bool runtime = false;                  ///< one of ctxscope's own threads (timer, recorder)
  std::uint32_t test = 0;                ///< test that started it (inherited through go()), 0: none
  std::vector<std::uint32_t> waits;      ///< indices into waits(), by begin time
};

struct Wait {
  std::uint64_t id = 0;
  std::uint32_t thread = 0;              ///< thread id
  std::uint8_t object = kNoCode;         ///< wait_object code: 0 chan_recv, 1 chan_send, 2 select, ...
  std::uint64_t object_id = 0;
  std::string label;
  std::uint64_t done_ctx_id = 0;         ///< 0: observes no context (blind)
  std::uint32_t done_ctx = kNoIndex;
  std::uint32_t n_cases = 1;
  std::uint32_t site = kNoIndex;
  std::int64_t begin_ns = kNoTime;
  std::int64_t end_ns = kNoTime;         ///< kNoTime: still blocked at the end of the trace
  std::uint8_t outcome = kNoCode;        ///< 0 value, 1 closed, 2 done, 3 default, 4 timeout
  std::int32_t case_index = -1;

  bool observes_context() const noexcept { return done_ctx != kNoIndex; }
};

/// A test (or a suite's SetUpTestSuite..TearDownTestSuite) of a run recorded
/// under the probe: what owns the contexts and threads it created.
struct TestCase {
  std::uint32_t id = 0;
  std::uint8_t kind = kNoCode;           ///< test_kind code: 0 test, 1 suite
  std::string name;                      ///< "Suite.Name" (the suite's name for kind suite)
  std::uint32_t thread = 0;
  std::int64_t begin_ns = kNoTime;
  std::int64_t end_ns = kNoTime;         ///< kNoTime: never ended (the run died in it)
  std::uint8_t result = kNoCode;         ///< test_result code: 0 passed, 1 failed, 2 skipped
  friend bool operator==(const TestCase&, const TestCase&) = default;
};

/// A cancel that reached a wait.  `woke` edges: the wait observed the context
/// and ended because of that cancel (outcome done).  `missed` edges: a wait
/// that observed nothing was blocked when its thread's context was done —
/// the arrow that should have been.
struct WakeEdge {
  enum class Kind : std::uint8_t { woke, missed };
  Kind kind = Kind::woke;
  std::uint32_t wait = kNoIndex;         ///< index into waits()
  std::uint32_t context = kNoIndex;      ///< the done context (the wait's, or its thread's effective one)
  std::uint32_t origin = kNoIndex;       ///< where the cancel began (== context unless cancelled by a parent)
  std::int64_t cancel_ns = kNoTime;
  std::uint32_t cancel_thread = 0;
  std::int64_t wake_ns = kNoTime;        ///< woke: the wait's end; missed: kNoTime
};

/// One stack frame, symbolized by the recorder when it could.
struct Frame {
  std::string function, file;
  int line = 0;
  std::uint64_t address = 0;
};

struct RunSummary {
  std::string program;                   ///< run.executable
  std::string argv_json;
  std::int64_t pid = 0;
  std::int64_t start_wall_ns = 0;
  bool complete = false;                 ///< has its end marker
  std::int64_t end_ns = 0;               ///< end marker, else last commit: the last moment the trace speaks for
  std::uint64_t events = 0;
  std::uint64_t events_dropped = 0;
  int stack_frames = 0;
};

/// What an update() added or changed (indices).
struct ModelDelta {
  std::vector<std::uint32_t> new_contexts, changed_contexts;
  std::vector<std::uint32_t> new_threads, changed_threads;
  std::vector<std::uint32_t> new_waits, changed_waits;
  bool edges_changed = false;
  /// Edges at this index and after may differ from before (edges() is kept
  /// in wait order and an update rewrites only its tail); edges before it are
  /// unchanged, at the same indices.  kNoEdge: none changed.
  std::size_t edges_changed_from = kNoEdge;
  static constexpr std::size_t kNoEdge = std::numeric_limits<std::size_t>::max();
  bool run_changed = false;
  bool tests_changed = false;
  /// Adds what a later update `next` did: the delta from before this one to after `next`.
  void merge(const ModelDelta& next);
  bool empty() const noexcept {
    return new_contexts.empty() && changed_contexts.empty() && new_threads.empty() && changed_threads.empty() &&
           new_waits.empty() && changed_waits.empty() && !edges_changed && !run_changed && !tests_changed;
  }
};

struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct LoadOptions {
  /// Called now and then with the fraction done in [0, 1]; return false to
  /// cancel the load (load() then throws LoadCancelled).  May be empty.
  std::function<bool(double)> progress;
  /// A large trace file (parallel_min_rows entity rows or more) is read by
  /// two connections on two threads, every table from both ends until the two
  /// meet, when both see the same commit (else the caller's connection reads
  /// it all); progress is still reported on the calling thread.
  /// false: one connection, one thread.  An in-memory trace is read on one.
  bool parallel = true;
  std::size_t parallel_min_rows = 50000;
  /// Below 1: only the rows in the lowest `prefix` of each entity table's id
  /// span, the first recorded (ids grow as the run goes) — a preview of a
  /// large file's start while the whole of it loads (the viewer's first
  /// paint).  A consistent model of those rows: a reference to a row past
  /// the prefix is unknown, as in a live model before that row is committed.
  /// Read on one connection.
  double prefix = 1.0;
};
struct LoadCancelled : std::runtime_error {
  LoadCancelled() : std::runtime_error("load cancelled") {}
};

namespace detail {
/// Trace id → model index.  The recorder's ids are dense enough (blocks of
/// 1,024 per thread) for a plain vector; an id far beyond the rows (a damaged
/// or hostile file) goes to a hash map instead, so memory stays bounded by
/// the number of rows.
class IdIndex {
 public:
  void reserve(std::uint64_t max_id, std::size_t rows);
  void insert(std::uint64_t id, std::uint32_t index);
  std::uint32_t find(std::uint64_t id) const noexcept {
    if (id < dense_.size()) return dense_[id];
    if (sparse_.empty()) return kNoIndex;
    auto it = sparse_.find(id);
    return it == sparse_.end() ? kNoIndex : it->second;
  }
  std::size_t memory_bytes() const noexcept { return dense_.memory_bytes() + sparse_.size() * 40; }

 private:
  void grow(std::uint64_t size);
  std::size_t rows_ = 0;
  ChunkedVector<std::uint32_t> dense_;
  std::unordered_map<std::uint64_t, std::uint32_t> sparse_;
};
}  // namespace detail

class TraceModel {
 public:
  TraceModel() = default;
  /// A copy is a snapshot: the live viewer follows with update() on one model
  /// and publishes copies.  The entity arrays are shared chunk by chunk (copy
  /// on write), so a copy costs the number of chunks plus the small tables
  /// (sites, stacks, tests, roots), not the number of entities.
  TraceModel(const TraceModel&);
  TraceModel& operator=(const TraceModel&);
  TraceModel(TraceModel&&) noexcept = default;
  TraceModel& operator=(TraceModel&&) noexcept = default;
  ~TraceModel() = default;

  /// Reads the whole trace on `db` (opened by TraceReader, or an in-memory
  /// trace) in one read transaction.  Throws ModelError on an SQL error or a
  /// damaged row (message names the problem), LoadCancelled when cancelled.
  static TraceModel load(sqlite3* db, const LoadOptions& opts = {});

  /// Appends and updates what was committed since the last load/update (a live
  /// trace), in one read transaction.  Cheap when nothing changed.
  ModelDelta update(sqlite3* db);

  // ---- entities -----------------------------------------------------------
  const RunSummary& run() const noexcept { return run_; }
  ChunkedView<Context> contexts() const noexcept { return contexts_.view(); }
  ChunkedView<Thread> threads() const noexcept { return threads_.view(); }
  ChunkedView<Wait> waits() const noexcept { return waits_.view(); }
  ChunkedView<WakeEdge> edges() const noexcept { return edges_.view(); }
  std::span<const Site> sites() const noexcept { return sites_; }
  std::span<const std::vector<Frame>> stacks() const noexcept { return stacks_; }
  /// Tests of a run recorded under the probe (empty otherwise), by id.
  std::span<const TestCase> tests() const noexcept { return tests_; }
  /// The test with that id, or nullptr.
  const TestCase* find_test(std::uint32_t id) const noexcept;

  /// Contexts without a parent in the trace: background, todo (and a context
  /// whose parent row is missing, e.g. after a kill).
  std::span<const std::uint32_t> roots() const noexcept { return roots_; }

  std::uint32_t find_context(std::uint64_t id) const noexcept;
  std::uint32_t find_thread(std::uint32_t id) const noexcept;
  std::uint32_t find_wait(std::uint64_t id) const noexcept;

  /// The site, or an empty Site for kNoIndex.
  const Site& site(std::uint32_t index) const noexcept;
  /// Root first, the context last.
  std::vector<std::uint32_t> ancestry(std::uint32_t context) const;
  /// Edges of a wait (woke or missed), indices into edges().
  std::vector<std::uint32_t> edges_of_wait(std::uint32_t wait) const;
  /// Edges whose cancel began at `context` (its wave), indices into edges().
  std::vector<std::uint32_t> edges_from(std::uint32_t origin) const;
  /// Name of `code` in enumeration `type` ("kind", "wait_object", ...), from
  /// the file's enums table; "code N" for a code the file does not name.
  std::string name_of(std::string_view type, std::uint8_t code) const;

  // ---- state at time t (O(log n) or O(1)) -----------------------------------
  ContextState context_state(std::uint32_t context, std::int64_t t) const noexcept;
  WaitState wait_state(std::uint32_t wait, std::int64_t t) const noexcept;
  /// Number of contexts / waits / threads created (begun, spawned) at or before t.
  std::size_t contexts_created_by(std::int64_t t) const noexcept;
  std::size_t waits_begun_by(std::int64_t t) const noexcept;
  /// Indices of contexts in order of creation time (what contexts_created_by counts).
  ChunkedView<std::uint32_t> contexts_by_time() const noexcept { return ctx_by_time_.view(); }
  ChunkedView<std::uint32_t> waits_by_time() const noexcept { return waits_by_time_.view(); }
  /// Every instant at which something changes (creations, cancels, releases,
  /// wait begins/ends, spawns, exits), sorted and unique: playback steps.
  /// Computed on first use (thread-safe), then kept current by update().
  std::span<const std::int64_t> moments() const;
  /// First moment > t / last moment < t (kNoTime when none).
  std::int64_t next_moment(std::int64_t t) const;
  std::int64_t prev_moment(std::int64_t t) const;

  /// Resident bytes of the model (approximate), for benches.
  std::size_t memory_bytes() const noexcept;

 private:
  friend class ModelBuilder;
  RunSummary run_;
  ChunkedVector<Context> contexts_;
  ChunkedVector<Thread> threads_;
  ChunkedVector<Wait> waits_;
  ChunkedVector<WakeEdge> edges_;
  std::vector<Site> sites_;
  std::vector<std::vector<Frame>> stacks_;
  std::vector<TestCase> tests_;
  std::vector<std::uint32_t> roots_;
  ChunkedVector<std::uint32_t> ctx_by_time_, waits_by_time_;
  struct LazyMoments {
    std::once_flag once;
    std::atomic<bool> ready{false};
    std::vector<std::int64_t> v;
  };
  std::unique_ptr<LazyMoments> moments_ = std::make_unique<LazyMoments>();
  std::map<std::pair<std::string, int>, std::string, std::less<>> enum_names_;
  // id → index lookups.
  detail::IdIndex ctx_ids_, wait_ids_;
  std::vector<std::uint32_t> thread_index_;  // dense thread ids
  std::map<std::uint64_t, std::uint32_t> site_ids_, stack_ids_;
  std::vector<std::uint32_t> site_index_;  // site id → index, for the dense ids the recorder writes
  // Rows that arrived before what they point to (a partial or damaged file).
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> orphans_;
  std::vector<std::uint32_t> unthreaded_waits_;
  // Reverse links for incremental updates, as intrusive lists (no allocation
  // per entity): the waits observing a cancelable context (through value
  // contexts) — first_observer_[context], then next_observer_[wait] — and the
  // threads whose effective context it is — first_eff_thread_[context], then
  // next_eff_thread_[thread].  kNoIndex ends a list.
  ChunkedVector<std::uint32_t> first_observer_, next_observer_, first_eff_thread_, next_eff_thread_;
  std::int64_t last_seq_ = 0;
};

}  // namespace ctxscope::analysis
