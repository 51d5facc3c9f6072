// ctxscope/trace_schema.hpp — THE declaration of the trace file format.
//
// A trace is one SQLite file (WAL mode) per process run.  This header declares
// every table and column once, with its documentation; the recorder creates the
// file from it (`create_sql()`), docs/trace-schema.md is generated from it
// (`markdown()`, tool `ctxscope-gen-schema-doc`), and the reader checks a file
// against it.  Change a table => bump `kVersion` and regenerate the page (a test
// fails while the page is stale).
//
// Conventions that hold for every table:
//  * Times (`*_ns` columns) are steady-clock (CLOCK_MONOTONIC) nanoseconds
//    RELATIVE TO THE RUN START: `run.start_steady_ns` is the absolute steady time
//    of 0, `run.start_wall_ns` the Unix wall time of 0.  Deadlines too.
//  * Object ids (contexts, waits, channels, WaitGroups, Groups) share one id
//    space; background is context 1 and todo context 2 (rows always present).
//  * Thread ids are ctxscope's small dense ids (1, 2, ...), not OS tids.
//  * Sites and stacks are ids into `sites` / `stacks`; NULL = unknown / not captured.
//  * Enumerations are stored as small INTEGER codes everywhere (entity tables
//    and `events`): the values of the C++ enums in ctxscope/trace_codes.hpp
//    (and of ctxscope::errc).  Each such column lists its codes in its doc and
//    names its enumeration (`Column::enum_type`); table `enums` maps every
//    (type, code) to the name reports show.
//  * Rows in the entity tables (contexts, waits, threads, channels) are upserted:
//    a context whose cancel is recorded before its creation still gets one row.
//  * The file holds no views or triggers (readers refuse files that do); consumers
//    create their own TEMP views.  Events are stored packed, a JSON array per
//    block of one thread's events (`event_blocks.events`), and read through the
//    TEMP view `events` (events_view_sql()), which TraceReader creates on every
//    connection it opens.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ctxscope::trace::schema {

/// `PRAGMA user_version` of files written by this ctxscope.  Readers refuse any
/// other version: newer ones, and older ones, which must be re-recorded.
/// History: 1 = enumerations stored as names (TEXT) in the entity tables;
/// 2 = integer codes everywhere, cause columns NULL when the cause is err itself;
/// 3 = run.run_token, run.failure, end_state 'failed';
/// 4 = table `tests`, contexts.test and threads.test (ownership, the probe);
/// 5 = events stored compactly: tables `event_log` (one row per event: time and
///     id as deltas from its block, type/kind/err/aux/code packed into `op`) and
///     `event_blocks` (runs of one thread's events), read through the TEMP view
///     `events` (the version-4 columns) that every reader creates (events_view_sql());
/// 6 = events packed per block: `event_blocks.events` holds the block's events as
///     one JSON array (the fields of a version-5 `event_log` row each, trailing
///     zeros left out, time and id as deltas from the previous event); table `event_log` is gone (one row per event was most of
///     the recorder's SQLite work).  The view `events` is unchanged.
inline constexpr int kVersion = 6;
/// `PRAGMA application_id`: ASCII "CTXS".
inline constexpr std::int32_t kApplicationId = 0x43545853;

struct Column {
  std::string_view name;
  std::string_view type;  ///< SQL type and column constraint, e.g. "INTEGER PRIMARY KEY"
  std::string_view doc;
  /// For an enumeration column: its `enums.type` (the doc lists the codes); empty otherwise.
  std::string_view enum_type = {};
};

/// One row of table `enums`: a code of an enumeration and its name.
struct EnumValue {
  std::string_view type;  ///< e.g. "kind"
  int value;
  std::string_view name;  ///< e.g. "cancel" (ctxscope::to_string of the C++ enum)
};

struct Table {
  std::string_view name;
  std::string_view doc;
  std::span<const Column> columns;
  std::string_view table_constraint = {};  ///< e.g. "PRIMARY KEY (stack_id, depth)"; empty if none
  bool without_rowid = false;
};

namespace cols {
inline constexpr Column run[] = {
    {"schema_version", "INTEGER NOT NULL", "Schema version of this file (same as `PRAGMA user_version`)."},
    {"ctxscope_version", "TEXT NOT NULL", "Version of the ctxscope library that wrote the file."},
    {"pid", "INTEGER NOT NULL", "Process id of the traced program."},
    {"executable", "TEXT", "Path of the executable (`/proc/self/exe`)."},
    {"argv", "TEXT", "Command line as a JSON array of strings."},
    {"clock", "TEXT NOT NULL", "Clock of every `*_ns` column: `CLOCK_MONOTONIC` (std::chrono::steady_clock), read directly, or "
     "`CLOCK_MONOTONIC (TSC)`: the hot path read the TSC and the recorder converted it to CLOCK_MONOTONIC "
     "nanoseconds by interpolating between (TSC, CLOCK_MONOTONIC) anchors it samples on every drain pass "
     "(x86-64 where the kernel's clocksource is the TSC; `CTXSCOPE_CLOCK=monotonic` turns it off)."},
    {"start_wall_ns", "INTEGER NOT NULL", "Unix wall-clock time of the run start, ns since the epoch (time 0 of the trace)."},
    {"start_steady_ns", "INTEGER NOT NULL", "Absolute steady-clock ns of the run start; add it to any `*_ns` to get steady time."},
    {"end_state", "TEXT NOT NULL", "`stopped`: trace::stop() (or exit) ended the run cleanly; `none`: no end marker — "
                                   "the program is still running or was killed (the trace is incomplete); `failed`: "
                                   "writing the trace failed (see `failure`), events after `last_commit_ns` are missing."},
    {"end_ns", "INTEGER", "When the run was stopped; NULL without end marker."},
    {"last_commit_ns", "INTEGER", "End-of-data marker: the time of the newest event in the file, written in the same "
                                  "transaction as the events it covers (0 before the first event)."},
    {"events_recorded", "INTEGER NOT NULL", "Events written to `events` so far (updated at every commit)."},
    {"events_dropped", "INTEGER NOT NULL", "Events lost because buffers were full in drop mode (0 unless "
                                           "`drop_when_full`); readers must report a non-zero value."},
    {"drop_mode", "INTEGER NOT NULL", "1 if the run was recorded with `drop_when_full` (drop instead of wait)."},
    {"stack_frames", "INTEGER NOT NULL", "Frames captured per stack (CTXSCOPE_STACKS); 0 = stacks off."},
    {"run_token", "TEXT", "`CTXSCOPE_RUN_TOKEN` of the traced process: set by `ctxscope run`, which checks that the "
                          "trace it analyses was written by its own program; NULL otherwise."},
    {"failure", "TEXT", "Why writing the trace failed (e.g. `database or disk is full`) when `end_state` is `failed`; "
                        "NULL otherwise."},
};

inline constexpr Column threads[] = {
    {"id", "INTEGER PRIMARY KEY", "ctxscope thread id."},
    {"name", "TEXT", "Name given to go(); NULL for threads not started by go() (e.g. main)."},
    {"ctx", "INTEGER", "Context the thread was started with by go(); NULL if not started by go()."},
    {"parent_thread", "INTEGER", "Thread that called go(); NULL if unknown."},
    {"spawn_ns", "INTEGER", "When go() started it; NULL if not started by go()."},
    {"spawn_site", "INTEGER", "Site of the go() call (`sites.id`)."},
    {"exit_ns", "INTEGER", "When its function returned; NULL if still running at the end of the trace."},
    {"first_ns", "INTEGER", "Time of the first event recorded from or about this thread."},
    {"test", "INTEGER", "Test (`tests.id`) that started it: the test running on the thread that called go() "
                        "(go() threads inherit it); NULL outside tests or when not recorded under the probe."},
};

inline constexpr Column contexts[] = {
    {"id", "INTEGER PRIMARY KEY", "Context id (1 = background, 2 = todo)."},
    {"parent", "INTEGER", "Parent context id; NULL for background and todo."},
    {"kind", "INTEGER", "Kind code (`enums.type = 'kind'`): 0 background, 1 todo, 2 cancel, 3 timeout, 4 deadline, "
                        "5 cause (with_cancel_cause), 6 without_cancel, 7 value.", "kind"},
    {"thread", "INTEGER", "Thread that created it."},
    {"created_ns", "INTEGER", "Creation time."},
    {"site", "INTEGER", "Creation site (`sites.id`): the with_* call."},
    {"stack", "INTEGER", "Creation stack (`stacks.id`) when stacks are on."},
    {"deadline_ns", "INTEGER", "Effective deadline (relative to run start, may be negative); NULL if none."},
    {"registered", "INTEGER", "1 if it was registered with a cancelable ancestor at creation (cancel propagates to it)."},
    {"label", "TEXT", "Key name for `value` contexts; NULL otherwise."},
    {"cancel_ns", "INTEGER", "When it became done; NULL if never. One cancel operation carries one time: a context cancelled by propagation has its origin's cancel_ns."},
    {"cancel_reason", "INTEGER", "CancelReason code (`enums.type = 'cancel_reason'`): 0 explicit (its cancel func was "
                                 "called), 1 parent (an ancestor was cancelled), 2 deadline (its own timer fired), "
                                 "3 born_done (derived from a done parent); NULL while not done.", "cancel_reason"},
    {"cancel_parent", "INTEGER", "For reason parent: the direct parent that propagated the cancel."},
    {"cancel_origin", "INTEGER", "For reason parent: the ancestor whose cancel started the propagation."},
    {"cancel_thread", "INTEGER", "Thread on which the cancel happened (caller, propagating thread or timer thread)."},
    {"cancel_site", "INTEGER", "Site of the explicit cancel call (`sites.id`); NULL for other reasons."},
    {"cancel_stack", "INTEGER", "Stack of the explicit cancel call when stacks are on."},
    {"cancel_called_ns", "INTEGER", "First time its CancelFunc was explicitly called, even if it was already done "
                                    "then (the owner did call cancel); NULL if never called."},
    {"cancel_called_thread", "INTEGER", "Thread of that first explicit call."},
    {"cancel_called_site", "INTEGER", "Site of that first explicit call."},
    {"err", "INTEGER", "errc code (`enums.type = 'errc'`): 1 canceled, 2 deadline_exceeded; NULL while not done.", "errc"},
    {"cause_code", "INTEGER", "Cause (Go 1.20 context.Cause) as error_code value. NULL = the cause is err itself "
                              "(as Go's context.Cause returns Err when no cause was set): exactly when the cause's "
                              "category is ctxscope's context category (`ctxscope.context`) and its value equals "
                              "`err` — no cause was given, or the given cause is that same error. Also NULL while "
                              "not done."},
    {"cause_category", "TEXT", "Category name (std::error_category::name) of the cause error_code; NULL exactly when "
                               "`cause_code` is NULL."},
    {"done_observed_ns", "INTEGER", "First time err()/done reported done for it; NULL if nobody looked."},
    {"done_observed_thread", "INTEGER", "Thread of that first observation."},
    {"done_observed_site", "INTEGER", "Site of that first observation."},
    {"dropped_ns", "INTEGER", "When the last copy of its CancelFunc was destroyed uncalled (a lost cancel); NULL if not."},
    {"dropped_thread", "INTEGER", "Thread that destroyed the last copy."},
    {"dropped_when_done", "INTEGER", "1 if it was already done (by parent/deadline) when the cancel was dropped."},
    {"released_ns", "INTEGER", "When it was unregistered from its parent; NULL if still registered at the end. A release by its own or its parent's cancel has that cancel's time."},
    {"release_reason", "INTEGER", "ReleaseReason code (`enums.type = 'release_reason'`): 0 own_cancel, 1 parent (parent "
                                  "cancelled, dropped all children), 2 destroyed (last handle gone while registered); "
                                  "NULL while registered.", "release_reason"},
    {"release_thread", "INTEGER", "Thread on which the release happened."},
    {"test", "INTEGER", "Test (`tests.id`) that created it: the test running on the creating thread (go() threads "
                        "inherit their starter's test); NULL outside tests or when not recorded under the probe."},
};

inline constexpr Column tests[] = {
    {"id", "INTEGER PRIMARY KEY", "Test id (1, 2, ... in order of beginning), referenced by contexts.test and threads.test."},
    {"kind", "INTEGER NOT NULL", "TestKind code (`enums.type = 'test_kind'`): 0 test, 1 suite (SetUpTestSuite to "
                                 "TearDownTestSuite: what a suite fixture owns).", "test_kind"},
    {"name", "TEXT NOT NULL", "`Suite.Name` as GoogleTest names it (the suite's name for kind suite)."},
    {"thread", "INTEGER", "Thread the test ran on."},
    {"begin_ns", "INTEGER", "When it began (before the fixture's constructor)."},
    {"end_ns", "INTEGER", "When it ended (after TearDown); NULL if it never ended (the run died in it)."},
    {"result", "INTEGER", "TestResult code (`enums.type = 'test_result'`): 0 passed, 1 failed, 2 skipped, as the "
                          "framework saw it before the probe's check; NULL while running.", "test_result"},
};

inline constexpr Column waits[] = {
    {"id", "INTEGER PRIMARY KEY", "Wait id (one blocking operation)."},
    {"thread", "INTEGER", "Waiting thread."},
    {"object", "INTEGER", "WaitObject code (`enums.type = 'wait_object'`): 0 chan_recv, 1 chan_send, 2 select, "
                          "3 waitgroup, 4 group (errgroup wait), 5 sleep, 6 done (blocking on ctx.done() alone).",
     "wait_object"},
    {"object_id", "INTEGER", "Id of the channel / WaitGroup / Group; NULL for select, sleep, done."},
    {"label", "TEXT", "Label of the object, if it has one."},
    {"done_ctx", "INTEGER", "Context whose done() was among the cases; NULL if the wait does not observe any context."},
    {"n_cases", "INTEGER", "Number of cases of a select (1 for other waits)."},
    {"site", "INTEGER", "Site of the blocking call (`sites.id`)."},
    {"begin_ns", "INTEGER", "When it began."},
    {"end_ns", "INTEGER", "When it ended; NULL if still blocked at the end of the trace."},
    {"outcome", "INTEGER", "WaitOutcome code (`enums.type = 'wait_outcome'`): 0 value, 1 closed, 2 done, 3 default, "
                           "4 timeout; NULL if still blocked.", "wait_outcome"},
    {"case_index", "INTEGER", "Index of the select case that won."},
};

inline constexpr Column channels[] = {
    {"id", "INTEGER PRIMARY KEY", "Channel id."},
    {"capacity", "INTEGER", "Buffer capacity (0 = unbuffered)."},
    {"label", "TEXT", "Label given at creation, if any."},
    {"thread", "INTEGER", "Creating thread."},
    {"created_ns", "INTEGER", "Creation time."},
    {"site", "INTEGER", "Creation site."},
    {"closed_ns", "INTEGER", "When close() was called; NULL if never."},
    {"close_thread", "INTEGER", "Thread that closed it."},
    {"close_site", "INTEGER", "Site of the close() call."},
};

inline constexpr Column sites[] = {
    {"id", "INTEGER PRIMARY KEY", "Site id, referenced by the `site` columns."},
    {"file", "TEXT", "Source file as the compiler spelled it (std::source_location::file_name)."},
    {"line", "INTEGER", "Line."},
    {"col", "INTEGER", "Column (0 if unknown)."},
    {"function", "TEXT", "Enclosing function (std::source_location::function_name)."},
};

inline constexpr Column stacks[] = {
    {"id", "INTEGER PRIMARY KEY", "Stack id (deduplicated: equal frame lists share one id)."},
    {"depth", "INTEGER NOT NULL", "Number of frames (rows in `stack_frames`)."},
};

inline constexpr Column stack_frames[] = {
    {"stack_id", "INTEGER NOT NULL", "`stacks.id`."},
    {"depth", "INTEGER NOT NULL", "0 = the innermost frame of the code that called the ctxscope API (the runtime's own "
                                  "frames are stripped); an inlined call has a frame of its own."},
    {"frame_id", "INTEGER NOT NULL", "`frames.id`."},
};

inline constexpr Column frames[] = {
    {"id", "INTEGER PRIMARY KEY", "Frame id: one per address and inlined level (an address inside inlined "
                                  "calls has a row for each, innermost first, in consecutive ids)."},
    {"address", "INTEGER", "Return address in the traced process (the call is the instruction before it)."},
    {"function", "TEXT", "Symbolized function name, if known."},
    {"file", "TEXT", "Source file, if debug info was available."},
    {"line", "INTEGER", "Source line, if debug info was available."},
};

inline constexpr Column event_blocks[] = {
    {"seq", "INTEGER PRIMARY KEY", "`events.seq` of the block's first event; the block holds the events "
                                   "`seq` .. `seq + n - 1` (blocks never overlap and cover every event: `seq` "
                                   "counts 1, 2, ... without gaps)."},
    {"n", "INTEGER NOT NULL", "Number of events in the block (1 to 256)."},
    {"thread", "INTEGER NOT NULL", "Emitting thread of every event of the block (`events.thread`): a block is a run of "
                                   "consecutive events of one thread, within one commit."},
    {"t_ns", "INTEGER NOT NULL", "Time of the block's first event, the base of `dt`."},
    {"id", "INTEGER NOT NULL", "Primary object id of the block's first event, the base of `did` and of a relative `ref`."},
    {"events", "TEXT NOT NULL",
     "The block's `n` events in order, a JSON array of arrays `[dt, op, did, site, ref, value]` with trailing "
     "zeros left out (from `did` on: `[0,33]` is dt 0, op 33, the rest 0); `json_each(events)` walks them "
     "(`key` + `seq` is the event's seq).  `dt`: `events.t_ns` minus the previous event's (minus the block's "
     "`t_ns` for the first, so 0; a thread's events are in time order, so it is rarely negative): `events.t_ns` "
     "is `t_ns` plus the sum of `dt` up to the event.  `op`: packed "
     "`type | kind << 4 | e << 8 | aux << 10 | code << 18` (type 4 bits, kind 4, e 2, aux 8, code the signed "
     "rest; decode with `op & 15`, `(op >> 4) & 15`, `(op >> 10) & 255`, `op >> 18`), where `e` is err, except "
     "for ctx_cancel (type 2): `(err - 1) & 3`, so that err = `((op >> 8) + 1) & 3`.  `did`: `events.id` minus "
     "the previous event's (minus the block's `id` for the first): `events.id` is `id` plus the sum of `did` up "
     "to the event.  `site`: `events.site` (`sites.id`; 0 = NULL).  `ref`: `events.ref`: 0 for none, else "
     "`2 * ref - 1` (odd: absolute) or `2 * (ref - block id)` (even: relative to the block's `id`), whichever "
     "is smaller.  `value`: `events.value`, as emitted."},
};

/// The columns of the TEMP view `events` (events_view_sql()): every event decoded.
inline constexpr Column events[] = {
    {"seq", "INTEGER", "Order in which the recorder wrote the event (per-thread order is preserved; "
                       "order across threads by `t_ns`, then `seq`)."},
    {"t_ns", "INTEGER", "Time of the event."},
    {"type", "INTEGER", "EventType code (`enums.type = 'event'`): 1 ctx_create, 2 ctx_cancel, 3 cancel_dropped, "
                                 "4 ctx_release, 5 done_observed, 6 wait_begin, 7 wait_end, 8 thread_spawn, 9 thread_exit, "
                                 "10 chan_create, 11 chan_close, 12 test_begin, 13 test_end.", "event"},
    {"thread", "INTEGER", "Emitting thread."},
    {"id", "INTEGER", "Primary object (context / wait / thread / channel id), see the EventType table in ctxscope/trace_codes.hpp."},
    {"ref", "INTEGER", "Secondary object (parent ctx, done ctx, ...)."},
    {"value", "INTEGER", "Numeric payload exactly as emitted (absolute deadline ns for ctx_create, capacity, ...)."},
    {"kind", "INTEGER", "Kind (ctx_create) / CancelReason (ctx_cancel) / WaitObject (wait_begin) / WaitOutcome "
                        "(wait_end) / ReleaseReason (ctx_release) code: the codes of the entity tables' columns "
                        "(`enums` types kind, cancel_reason, wait_object, wait_outcome, release_reason)."},
    {"aux", "INTEGER", "Auxiliary byte (ctx_create: registered flag; ctx_cancel: 1 = explicit call on an already-done context; "
                           "wait_begin: number of select cases)."},
    {"err", "INTEGER", "errc code for ctx_cancel (`enums.type = 'errc'`): 1 canceled, 2 deadline_exceeded.", "errc"},
    {"code", "INTEGER", "Cause error_code value for ctx_cancel, as emitted (also when the cause is err itself); for "
                        "ctx_create and thread_spawn the owning test (`tests.id`, 0 none)."},
    {"site", "INTEGER", "`sites.id` or NULL."},
};

inline constexpr Column enums[] = {
    {"type", "TEXT NOT NULL", "Enumeration: event, kind, cancel_reason, wait_object, wait_outcome, release_reason, "
                              "test_kind, test_result, errc."},
    {"value", "INTEGER NOT NULL", "Integer code as stored in `events` and in the entity tables' enumeration columns."},
    {"name", "TEXT NOT NULL", "Name of the code, as reports show it (e.g. kind 2 = cancel)."},
};
}  // namespace cols

inline constexpr Table kTables[] = {
    {"run", "One row describing the traced process run and how it ended.", cols::run},
    {"threads", "One row per thread seen (started by go() or emitting any event).", cols::threads},
    {"contexts", "One row per context: creation, cancellation, lost cancel, release.", cols::contexts},
    {"waits", "One row per blocking operation (channel op, select, WaitGroup/Group wait, sleep, done wait).", cols::waits},
    {"channels", "One row per channel.", cols::channels},
    {"tests", "One row per test (and test suite) a probe-linked test binary ran: what owns each context and thread.",
     cols::tests},
    {"sites", "Code locations (std::source_location), deduplicated.", cols::sites},
    {"stacks", "Captured stacks (8 frames by default; CTXSCOPE_STACKS=N, 0 = off), deduplicated.", cols::stacks},
    {"stack_frames", "Frames of each stack, innermost first.", cols::stack_frames, "PRIMARY KEY (stack_id, depth)", true},
    {"frames", "Symbolized frames (by the recorder, once per distinct address).", cols::frames},
    {"event_blocks", "Every event: runs of up to 256 consecutive events of one thread, packed one row per run; "
                     "read them through the view [`events`](#events).",
     cols::event_blocks},
    {"enums", "Names of the integer codes of every enumeration column (entity tables and `events`); every code of "
              "every enumeration has a row (see [Enumeration codes](#enumeration-codes)).",
     cols::enums, "PRIMARY KEY (type, value)", true},
};

/// All tables of a version-`kVersion` trace.
inline constexpr std::span<const Table> tables() noexcept { return kTables; }

/// The columns of the TEMP view `events` (not a table of the file).
inline constexpr std::span<const Column> events_view_columns() noexcept { return cols::events; }

/// How `event_blocks` encodes events (the recorder writes them, gen_trace and
/// tests too; events_view_sql() and the trace model decode).
namespace event_encoding {
inline constexpr int kMaxBlockEvents = 256;  ///< events per `event_blocks` row at most
inline constexpr int kKindShift = 4, kErrShift = 8, kAuxShift = 10, kCodeShift = 18;
inline constexpr unsigned kTypeMax = 15, kKindMax = 15, kErrMax = 3;
inline constexpr unsigned kCancelType = 2;  ///< EventType::ctx_cancel (trace_codes.hpp)
/// The field `op`.  type, kind and err must fit their fields (static_asserts in
/// the recorder).  The err field of a ctx_cancel holds (err - 1) & 3, so that the
/// common cancel (err 1, canceled) stays one byte on disk; other events carry err 0.
constexpr std::int64_t pack_op(unsigned type, unsigned kind, unsigned err, unsigned aux, std::int32_t code) noexcept {
  const unsigned f = type == kCancelType ? (err - 1u) & kErrMax : err & kErrMax;
  return static_cast<std::int64_t>(type & kTypeMax) | static_cast<std::int64_t>(kind & kKindMax) << kKindShift |
         static_cast<std::int64_t>(f) << kErrShift | static_cast<std::int64_t>(aux & 255u) << kAuxShift |
         static_cast<std::int64_t>(code) * (std::int64_t{1} << kCodeShift);
}
constexpr int op_type(std::int64_t op) noexcept { return static_cast<int>(op & kTypeMax); }
constexpr int op_kind(std::int64_t op) noexcept { return static_cast<int>((op >> kKindShift) & kKindMax); }
constexpr int op_err(std::int64_t op) noexcept {
  const int f = static_cast<int>((op >> kErrShift) & kErrMax);
  return op_type(op) == static_cast<int>(kCancelType) ? (f + 1) & static_cast<int>(kErrMax) : f;
}
constexpr int op_aux(std::int64_t op) noexcept { return static_cast<int>((op >> kAuxShift) & 255); }
constexpr std::int32_t op_code(std::int64_t op) noexcept { return static_cast<std::int32_t>(op >> kCodeShift); }
/// The field `ref`: 0 for none; else the id absolute (odd: `2 * ref - 1`, so
/// that background, 1, stores as 1: zero bytes on disk) or relative to the
/// block's id (even, non-zero: `2 * (ref - block id)`), whichever is smaller — a
/// parent or done context is usually an id near the event's own.  Ids are below
/// 2^62 (the runtime hands them out upward from 1).
constexpr std::int64_t pack_ref(std::uint64_t ref, std::int64_t block_id) noexcept {
  if (ref == 0) return 0;
  const std::int64_t abs = 2 * static_cast<std::int64_t>(ref) - 1;
  const std::int64_t rel = 2 * static_cast<std::int64_t>(ref - static_cast<std::uint64_t>(block_id));
  return rel != 0 && (rel < 0 ? -rel : rel) < abs ? rel : abs;
}
constexpr std::int64_t unpack_ref(std::int64_t stored, std::int64_t block_id) noexcept {
  return stored == 0 ? 0 : (stored & 1) ? (stored + 1) >> 1 : block_id + (stored >> 1);
}

/// One event of a block: its fields relative to the block — `dt` from the
/// block's t_ns, `did` from its id.  (On disk `dt` and `did` are deltas from
/// the previous event of the block, which keeps them short: BlockText and
/// decode_block convert.)
struct Fields {
  std::int64_t dt = 0;     ///< t_ns minus the block's t_ns
  std::int64_t op = 0;     ///< pack_op(...)
  std::int64_t did = 0;    ///< id minus the block's id
  std::int64_t site = 0;   ///< sites.id, 0 = none
  std::int64_t ref = 0;    ///< pack_ref(ref, block id)
  std::int64_t value = 0;  ///< as emitted
};
/// Builds one block's `events` text (the writer's, gen_trace's and the
/// benches' one encoder).
class BlockText {
 public:
  /// Appends one event (`[` before the first, `,` before the others).
  void append(const Fields& f);
  /// Closes the array (once) and returns the text.
  const std::string& finish();
  const std::string& str() const noexcept { return text_; }
  /// Empty again, for the next block (the buffer is kept).
  void clear() noexcept {
    text_.clear();
    dt_ = did_ = 0;
    finished_ = false;
  }

 private:
  std::string text_;
  std::int64_t dt_ = 0, did_ = 0;  // of the previous event, relative to the block
  bool finished_ = false;
};
/// Decodes a block's `events` text into `out` (cleared first), fields relative
/// to the block.  False, with `out` holding what parsed, when the text is not
/// an array of arrays of 2 to 6 integers.
bool decode_block(std::string_view events, std::vector<Fields>& out);
}  // namespace event_encoding

/// `CREATE TEMP VIEW IF NOT EXISTS events(...) AS ...`: the columns of cols::events,
/// decoded from `main.event_blocks` (json_each), in `seq` order.  Readers run it
/// on every connection (files hold no views); with plain `sqlite3`, paste it
/// first.  A query on a range of `seq` should read the blocks of that range
/// directly (`WHERE seq > ? - 256`) and decode them (decode_block): the view
/// walks every block.
std::string events_view_sql();

/// The table, or nullptr.
const Table* find_table(std::string_view name) noexcept;

/// `CREATE TABLE ...;` statements for every table (no pragmas, no data).
std::string create_sql();

/// Every row of table `enums` (every code of every enumeration), names from
/// ctxscope::to_string (errc: canceled, deadline_exceeded).
std::vector<EnumValue> enum_values();

/// `INSERT INTO enums(type, value, name) VALUES ...;` with every row of enum_values().
std::string enums_sql();

/// The reference page docs/trace-schema.md (Markdown), generated from this declaration.
std::string markdown();

}  // namespace ctxscope::trace::schema
