// TraceWriter: everything SQLite on the recording side, in two threads.
//
// The recorder thread calls write() per event: it appends the event to its
// block — a run of up to 256 consecutive events of one thread within one
// commit, one `event_blocks` row (its events a JSON array: time and id as
// deltas from the previous event, codes packed) — and merges the event into a
// pending entity row (contexts, waits, threads, channels, tests) keyed by
// object id; new sites, stacks and frames become pending rows too.  All of it
// is the open Batch.  commit() hands the batch to the writer's own SQL thread
// and goes on with the other batch (double buffering: at most one batch being
// written while the next is built), so SQLite's work (about 60% of the
// recorder's time) runs beside the draining instead of after it.  The SQL
// thread writes a batch in one transaction: blocks 16 rows per statement,
// entity rows as multi-row upserts whose columns are first-wins
// (coalesce(old, new)), so a context created, cancelled and released within
// one commit interval costs one row write, and events of one object drained
// out of order (rings are per thread) or across commits still meet in one row.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <map>
#include <source_location>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ctxscope/detail/events.hpp"
#include "recorder/give_way.hpp"
#include "recorder/time_map.hpp"
#include "ctxscope/detail/sql.hpp"
#include "ctxscope/trace_schema.hpp"

namespace ctxscope::trace::detail {

class TraceWriter {
 public:
  TraceWriter() = default;
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;
  ~TraceWriter() { close(); }

  /// Creates the schema and the run row (committed).  `t0` = steady ns of time 0;
  /// `tsc_clock`: Event::time holds TSC ticks (see TimeMap).
  /// `in_memory`: `path` names an in-memory trace (memdb VFS, shared in the process).
  bool open(const std::string& path, bool in_memory, std::uint64_t t0, int stack_frames, bool drop_mode,
            bool tsc_clock, std::string* err);
  /// Takes a clock anchor: call after reading the ring heads of a drain pass and
  /// before writing the events up to them.
  void anchor_clock() { clock_.anchor(); }
  /// Buffers one event (frames: raw stack of ctx_create / explicit cancel, or null).
  void write(const Event& e, const void* const* frames, int nframes);
  /// Ends the open batch and hands it to the SQL thread, which writes it, updates
  /// the run row and commits (`final_stop` also writes the end marker).  Waits
  /// while the SQL thread still writes the previous batch; with `wait`, also
  /// until this batch is committed (a flush barrier, the stop).  False once the
  /// file failed (reported once on stderr; the batch is rolled back and the run
  /// row marked `failed`, in a transaction of its own, where the disk still
  /// allows one page).
  bool commit(bool final_stop, std::uint64_t dropped, bool wait);
  /// Waits until every batch handed over is committed.
  void sync();
  /// Writes what was handed over, stops the SQL thread, closes the file.
  void close();
  std::uint64_t events_written() const { return events_; }
  std::uint64_t events_before_start() const { return before_start_; }

 private:
  // One pending value of an entity column: null, integer or static text.
  struct Cell {
    std::int64_t i = 0;
    const char* s = nullptr;
    std::uint8_t tag = 0;  // 0 null, 1 int, 2 text
    bool operator==(const Cell& o) const { return tag == o.tag && i == o.i && s == o.s; }
  };
  struct Entity {
    const schema::Table* table = nullptr;
    int ncols = 0;
    // The recorder thread's: the open batch's rows (swapped into the batch at commit).
    std::unordered_map<std::int64_t, std::uint32_t> index;  // id -> pending row
    std::vector<Cell> cells;                                 // pending rows, ncols each
    // The SQL thread's.
    std::vector<std::uint32_t> order;  // flush order (by id)
    sql::Stmt upsert1, upsertK;
    // What each parameter of upsert1 / upsertK holds: bindings outlive a reset,
    // so a value equal to the one already bound is not bound again (most
    // columns repeat row after row: NULL, a kind, a thread, a site).
    std::vector<Cell> bound1, boundK;
    int col(std::string_view name) const;
    Cell* row(std::int64_t id);
  };
  static constexpr int kEntitiesPerStmt = 16;
  static constexpr int kEntities = 5;
  static constexpr int kBlocksPerStmt = 16;
  struct Block {  // one event_blocks row
    std::int64_t seq = 0, n = 0, thread = 0, t = 0, id = 0;
    schema::event_encoding::BlockText events;  // its buffer is reused
  };
  struct SiteRow {  // strings of a std::source_location: static storage
    std::int64_t id;
    const char* file;
    const char* func;
    std::uint32_t line, col;
  };
  struct FrameRow {
    std::int64_t id;
    std::uintptr_t address;
    std::string function, file;
    int line;
  };
  // Everything one commit writes.  Built by the recorder thread, written by
  // the SQL thread, then cleared (its buffers keep their capacity).
  struct Batch {
    std::vector<Block> blocks;  // closed blocks: the first nblocks (the rest keep their buffers)
    std::size_t nblocks = 0;
    std::vector<Cell> cells[kEntities];  // each entity's rows (Entity::cells)
    std::vector<SiteRow> sites;
    std::vector<FrameRow> frames;
    std::vector<std::int64_t> stacks;  // per new stack: id, depth, then depth frame ids
    std::uint64_t events = 0, dropped = 0;
    std::int64_t max_t = 0;
    std::int64_t end_ns = -1;  // >= 0: the final commit, with the end marker
  };

  bool exec(const char* sql);
  void fail_write(const char* what);
  void record_failure();
  sql::Stmt prep(const std::string& sql);
  void step(sql::Stmt& s);
  bool init_entity(Entity& e, const char* name);
  void close_block();
  // The SQL thread's.
  void sql_main();
  void write_batch(Batch& b);
  void flush_blocks(Batch& b);
  void flush_entity(Entity& e, std::vector<Cell>& cells);
  std::int64_t rel(std::uint64_t abs) const { return static_cast<std::int64_t>(abs - t0_); }
  std::int64_t site_id(const std::source_location& loc);
  std::int64_t stack_id(const void* const* frames, int n);
  struct AddressFrames {
    std::vector<std::int64_t> ids;  // frames.id of each inlined level, innermost first
    bool internal = false;          // the runtime's own code: stripped from the top of stacks
    std::size_t leading_runtime = 0;  // inlined runtime frames heading a user address: stripped at the top
  };
  /// Symbolizes `addr` once (a frames row per inlined level) and remembers it.
  const AddressFrames& frame_ids(const void* addr);
  void see_thread(std::uint64_t id, std::int64_t t);

  static void set(Cell* row, int c, std::int64_t v) {
    if (row[c].tag == 0) row[c] = {v, nullptr, 1};
  }
  static void set_opt(Cell* row, int c, std::int64_t v) {
    if (v) set(row, c, v);
  }
  static void set_text(Cell* row, int c, const char* s) {
    if (s && row[c].tag == 0) row[c] = {0, s, 2};
  }

  sqlite3* db_ = nullptr;
  std::string path_;
  std::uint64_t t0_ = 0;
  TimeMap clock_;
  std::uint64_t events_ = 0;
  std::uint64_t before_start_ = 0;  // stamped before the run began: not part of it
  int stack_frames_ = 0;
  std::atomic<bool> failed_{false};  // set by the SQL thread (and by open), read by write()
  bool failure_recorded_ = false;     // the SQL thread's
  std::string failure_;  // SQLite's message for the first failed write (the SQL thread's)
  // The end-of-data marker: newest event time written (a rolled-back batch
  // never reaches the file, its run row update neither).
  std::int64_t max_t_ = 0;
  bool in_txn_ = false;

  std::int64_t next_seq_ = 1;
  Block block_;  // the open block (n == 0: none)
  Batch build_;  // the open batch (recorder thread)
  sql::Stmt ins_block1_, ins_blockK_;
  Entity contexts_, waits_, threads_, channels_, tests_;
  Entity* const entities_[kEntities] = {&contexts_, &waits_, &threads_, &channels_, &tests_};
  sql::Stmt ins_site_, ins_stack_, ins_stack_frame_, ins_frame_, run_commit_, run_end_;

  // The hand-over: ship_ is the batch given to the SQL thread.
  std::thread sql_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  Batch ship_;           // under mu_ while shipped_ is false; the SQL thread's while it is true
  bool shipped_ = false;  // under mu_: ship_ holds a batch not yet committed
  bool quit_ = false;     // under mu_
  GiveWay give_way_{g_give_way_yields_sql};  // the SQL thread's (inactive in open()'s commit)

  // Column indices, resolved once from the schema declaration.
  struct {
    int parent, kind, thread, created_ns, site, stack, deadline_ns, registered, label, cancel_ns, cancel_reason,
        cancel_parent, cancel_origin, cancel_thread, cancel_site, cancel_stack, called_ns, called_thread, called_site,
        err, cause_code, cause_category, obs_ns, obs_thread, obs_site, dropped_ns, dropped_thread, dropped_when_done,
        released_ns, release_reason, release_thread, test;
  } cc_{};
  struct {
    int thread, object, object_id, label, done_ctx, n_cases, site, begin_ns, end_ns, outcome, case_index;
  } wc_{};
  struct {
    int name, ctx, parent_thread, spawn_ns, spawn_site, exit_ns, first_ns, test;
  } tc_{};
  struct {
    int capacity, label, thread, created_ns, site, closed_ns, close_thread, close_site;
  } chc_{};
  struct {
    int kind, name, thread, begin_ns, end_ns, result;
  } xc_{};

  struct SiteKey {
    const char* file;
    const char* func;
    std::uint32_t line, col;
    bool operator==(const SiteKey&) const = default;
  };
  struct SiteKeyHash {
    std::size_t operator()(const SiteKey& k) const noexcept;
  };
  std::unordered_map<SiteKey, std::int64_t, SiteKeyHash> site_by_ptr_;
  std::map<std::tuple<std::string, std::string, std::uint32_t, std::uint32_t>, std::int64_t> site_by_text_;
  std::int64_t next_site_ = 1;
  std::unordered_set<std::uint64_t> threads_seen_;
  // Two keys to one stack id: raw return addresses (fast path for exact
  // repeats) and the stored frame ids after the recorder's own leading frames
  // are stripped — the identity that matters, since how many recorder frames
  // a capture holds depends on which internal path (first event of a thread,
  // ring full, inlining) took it.
  // Raw key: hash of the addresses → (addresses, stack id); a hit allocates nothing.
  struct RawStack {
    std::vector<const void*> frames;
    std::int64_t id;
  };
  std::unordered_map<std::uint64_t, std::vector<RawStack>> stacks_;
  std::map<std::vector<std::int64_t>, std::int64_t> stacks_by_frames_;
  std::unordered_map<const void*, AddressFrames> frames_;
  std::int64_t next_stack_ = 1, next_frame_ = 1;
};

}  // namespace ctxscope::trace::detail
