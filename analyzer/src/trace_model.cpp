// The trace model: entity rows of a trace read once into plain vectors, and
// the facts every consumer derives from them (tree links, wake edges, time
// indices) computed here once.  Incremental updates read only the rows the
// new events name (events.seq > the last one seen).
#include "ctxscope/analysis/trace_model.hpp"

#include <sqlite3.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <system_error>
#include <limits>
#include <memory>
#include <mutex>
#include <type_traits>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ctxscope/trace_schema.hpp"
#include "enum_names.hpp"
#include "event_blocks.hpp"
#include "sql.hpp"

namespace ctxscope::analysis {
namespace {

constexpr std::uint8_t kOutcomeDone = 2;
constexpr std::uint8_t kReasonExplicit = 0, kReasonParent = 1, kReasonDeadline = 2, kReasonBornDone = 3;
constexpr std::uint8_t kReleaseDestroyed = 2;
// The seq of the newest event: the last block's last (blocks are in seq order; by rowid, not a scan).
constexpr const char* kLastSeqSql = "SELECT seq + n - 1 FROM main.event_blocks ORDER BY seq DESC LIMIT 1";

// NULL reads as 0: only a 0 needs the second call that tells the two apart
// (the load reads millions of columns; this halves the calls into SQLite).
std::int64_t t_or_none(const sql::Stmt& s, int c) {
  return s.opt(c).value_or(kNoTime);
}
std::uint8_t code_or_none(const sql::Stmt& s, int c) {
  const auto v = s.opt(c);
  if (!v) return kNoCode;
  return *v < 0 || *v >= kNoCode ? kNoCode - 1 : static_cast<std::uint8_t>(*v);  // 254: a code out of range
}

// Column lists: the order the readers below index by.
constexpr const char* kCtxCols =
    "id, parent, kind, thread, created_ns, site, stack, deadline_ns, registered, label, cancel_ns, "
    "cancel_reason, err, cancel_origin, cancel_thread, cancel_site, cancel_stack, cancel_called_ns, "
    "cancel_called_site, dropped_ns, dropped_thread, dropped_when_done, released_ns, release_reason, "
    "done_observed_ns, test";
constexpr const char* kThreadCols = "id, name, ctx, parent_thread, spawn_ns, spawn_site, exit_ns, first_ns, test";
constexpr const char* kWaitCols =
    "id, thread, object, object_id, label, done_ctx, n_cases, site, begin_ns, end_ns, outcome, case_index";

// Runtime threads: names the runtime gives its own threads (never a user's go()).
bool is_runtime_thread_name(const std::string& n) { return n.rfind("ctxscope-", 0) == 0; }

}  // namespace

// Reads rows into a TraceModel and keeps its derived indices true.  A friend
// of TraceModel; lives only for one load() or update().
class ModelBuilder {
 public:
  ModelBuilder(TraceModel& m, sqlite3* db) : m_(m), db_(db) {}

  void read_enums() { m_.enum_names_ = detail::read_enum_table(db_); }

  bool read_run() {
    sql::Stmt s(db_,
                "SELECT executable, argv, pid, start_wall_ns, end_state, end_ns, last_commit_ns, events_recorded, "
                "events_dropped, stack_frames FROM run LIMIT 1");
    RunSummary r;
    if (s.step()) {
      r.program = s.text(0);
      r.argv_json = s.text(1);
      r.pid = s.i64(2);
      r.start_wall_ns = s.i64(3);
      r.complete = s.text(4) == "stopped";
      r.end_ns = !s.null(5) ? s.i64(5) : !s.null(6) ? s.i64(6) : 0;
      r.events = static_cast<std::uint64_t>(s.i64(7));
      r.events_dropped = static_cast<std::uint64_t>(s.i64(8));
      r.stack_frames = static_cast<int>(s.i64(9));
    }
    const bool changed = r.program != m_.run_.program || r.complete != m_.run_.complete ||
                         r.end_ns != m_.run_.end_ns || r.events != m_.run_.events ||
                         r.events_dropped != m_.run_.events_dropped;
    m_.run_ = std::move(r);
    return changed;
  }

  // Sites and stacks are written once each with increasing ids: read the new ones.
  void read_sites() {
    std::int64_t max_id = m_.site_ids_.empty() ? 0 : m_.site_ids_.rbegin()->first;
    sql::Stmt s(db_, "SELECT id, file, line, col, function FROM sites WHERE id > ? ORDER BY id");
    s.bind(1, max_id);
    while (s.step()) {
      Site site;
      site.file = s.text(1);
      site.line = static_cast<int>(s.i64(2));
      site.column = static_cast<int>(s.i64(3));
      site.function = s.text(4);
      const auto id = static_cast<std::uint64_t>(s.i64(0));
      m_.site_ids_[id] = static_cast<std::uint32_t>(m_.sites_.size());
      // Site ids are small and dense (the recorder numbers them from 1): a vector looks them up.
      if (id < (1u << 24)) {
        if (id >= m_.site_index_.size()) m_.site_index_.resize(id + 1, kNoIndex);
        m_.site_index_[id] = static_cast<std::uint32_t>(m_.sites_.size());
      }
      m_.sites_.push_back(std::move(site));
    }
  }

  void read_stacks() {
    std::int64_t max_id = m_.stack_ids_.empty() ? 0 : m_.stack_ids_.rbegin()->first;
    sql::Stmt s(db_,
                "SELECT sf.stack_id, f.function, f.file, f.line, f.address FROM stack_frames sf "
                "JOIN frames f ON f.id = sf.frame_id WHERE sf.stack_id > ? ORDER BY sf.stack_id, sf.depth");
    s.bind(1, max_id);
    std::uint64_t cur = 0;
    while (s.step()) {
      const auto id = static_cast<std::uint64_t>(s.i64(0));
      if (id != cur || m_.stacks_.empty()) {
        if (!m_.stack_ids_.count(id)) {
          m_.stack_ids_[id] = static_cast<std::uint32_t>(m_.stacks_.size());
          m_.stacks_.emplace_back();
        }
        cur = id;
      }
      Frame f;
      f.function = s.text(1);
      f.file = s.text(2);
      f.line = static_cast<int>(s.i64(3));
      f.address = static_cast<std::uint64_t>(s.i64(4));
      m_.stacks_[m_.stack_ids_[id]].push_back(std::move(f));
    }
  }

  std::uint32_t site_index(const sql::Stmt& s, int c) const {
    const std::int64_t id = s.i64(c);  // NULL reads as 0, never a site id
    if (id > 0 && static_cast<std::uint64_t>(id) < m_.site_index_.size()) return m_.site_index_[id];
    return kNoIndex;
  }
  std::uint32_t stack_index(const sql::Stmt& s, int c) const {
    const auto id = s.opt(c);
    if (!id) return kNoIndex;
    auto it = m_.stack_ids_.find(static_cast<std::uint64_t>(*id));
    return it == m_.stack_ids_.end() ? kNoIndex : it->second;
  }

  // `origin_id`: the cancel_origin column (an id; fix_origins() makes it an index).
  Context read_context(const sql::Stmt& s, std::uint64_t& origin_id) const {
    Context c;
    c.id = static_cast<std::uint64_t>(s.i64(0));
    c.parent_id = static_cast<std::uint64_t>(s.opt(1).value_or(0));
    c.kind = code_or_none(s, 2);
    c.thread = static_cast<std::uint32_t>(s.i64(3));
    c.created_ns = t_or_none(s, 4);
    c.site = site_index(s, 5);
    c.stack = stack_index(s, 6);
    c.deadline_ns = t_or_none(s, 7);
    c.registered = s.i64(8) != 0;
    c.label = s.text(9);
    c.cancel_ns = t_or_none(s, 10);
    c.cancel_reason = code_or_none(s, 11);
    c.err = code_or_none(s, 12);
    origin_id = static_cast<std::uint64_t>(s.i64(13));  // NULL reads as 0, never a context id
    c.cancel_thread = static_cast<std::uint32_t>(s.i64(14));
    c.cancel_site = site_index(s, 15);
    c.cancel_stack = stack_index(s, 16);
    c.cancel_called_ns = t_or_none(s, 17);
    c.cancel_called_site = site_index(s, 18);
    c.dropped_ns = t_or_none(s, 19);
    c.dropped_thread = static_cast<std::uint32_t>(s.i64(20));
    c.dropped_when_done = s.i64(21) != 0;
    c.released_ns = t_or_none(s, 22);
    c.release_reason = code_or_none(s, 23);
    c.done_observed_ns = t_or_none(s, 24);
    c.test = static_cast<std::uint32_t>(s.opt(25).value_or(0));
    return c;
  }

  Thread read_thread(const sql::Stmt& s) const {
    Thread t;
    t.id = static_cast<std::uint32_t>(s.i64(0));
    t.name = s.text(1);
    t.ctx_id = static_cast<std::uint64_t>(s.opt(2).value_or(0));
    t.parent_thread = static_cast<std::uint32_t>(s.i64(3));
    t.spawn_ns = t_or_none(s, 4);
    t.spawn_site = site_index(s, 5);
    t.exit_ns = t_or_none(s, 6);
    t.first_ns = t_or_none(s, 7);
    t.test = static_cast<std::uint32_t>(s.opt(8).value_or(0));
    t.runtime = is_runtime_thread_name(t.name);
    return t;
  }

  Wait read_wait(const sql::Stmt& s) const {
    Wait w;
    w.id = static_cast<std::uint64_t>(s.i64(0));
    w.thread = static_cast<std::uint32_t>(s.i64(1));
    w.object = code_or_none(s, 2);
    w.object_id = static_cast<std::uint64_t>(s.opt(3).value_or(0));
    w.label = s.text(4);
    w.done_ctx_id = static_cast<std::uint64_t>(s.opt(5).value_or(0));
    w.n_cases = static_cast<std::uint32_t>(s.opt(6).value_or(1));
    w.site = site_index(s, 7);
    w.begin_ns = t_or_none(s, 8);
    w.end_ns = t_or_none(s, 9);
    w.outcome = code_or_none(s, 10);
    w.case_index = static_cast<std::int32_t>(s.opt(11).value_or(-1));
    return w;
  }

  // ---- whole load ----------------------------------------------------------

  // One reader's rows of the three entity tables, each in id order once read.
  struct Part {
    detail::BigVector<Thread> thread_rows;
    detail::BigVector<Context> context_rows;
    std::vector<std::uint64_t> origin_ids;
    detail::BigVector<Wait> wait_rows;
    bool done[3] = {false, false, false};  // each table read to the end (or to where the other reader took over)
  };
  // Where two readers of one table meet.  The lower reads the ids upward
  // from the lowest, the upper downward from the highest; each takes the
  // rows of a batch the other has not taken, so the two meet wherever their
  // speeds put them (a fixed split at the middle left whichever thread ran
  // on the reference VM's slower vCPU 50% behind the other).
  struct Meet {
    std::mutex m;
    std::int64_t below = std::numeric_limits<std::int64_t>::min();  // the largest id the upward reader took
    std::int64_t above = std::numeric_limits<std::int64_t>::max();  // the smallest id the downward reader took
  };
  static constexpr int kBatch = 64;

  // Reads the rows of `table` with ids in [lo, hi) into `rows` (and `origins`
  // for contexts): all of them without `meet`; with it, the ones this reader
  // takes before meeting the other (`down`: from the top, left in descending
  // order).  `tick(n)` after each batch; it throws to stop the read.
  template <class T, class Tick>
  void read_table(sqlite3* db, const char* table, std::int64_t lo, std::int64_t hi, Meet* meet, bool down,
                  detail::BigVector<T>& rows, std::vector<std::uint64_t>* origins, Tick& tick) const {
    const char* cols = std::is_same_v<T, Context> ? kCtxCols : std::is_same_v<T, Wait> ? kWaitCols : kThreadCols;
    sql::Stmt s(db, std::string("SELECT ") + cols + " FROM " + table + " WHERE id >= ? AND id < ? ORDER BY id" +
                        (down ? " DESC" : ""));
    s.bind(1, lo);
    s.bind(2, hi);
    std::int64_t ids[kBatch];
    for (;;) {
      int n = 0;
      for (; n < kBatch && s.step(); ++n) {
        if constexpr (std::is_same_v<T, Context>) {
          std::uint64_t origin = 0;
          rows.push_back(read_context(s, origin));
          origins->push_back(origin);
        } else if constexpr (std::is_same_v<T, Wait>) {
          rows.push_back(read_wait(s));
        } else {
          rows.push_back(read_thread(s));
        }
        ids[n] = static_cast<std::int64_t>(rows.back().id);
      }
      int keep = n;
      if (meet && n > 0) {
        std::lock_guard lock(meet->m);
        keep = 0;
        if (!down) {
          while (keep < n && ids[keep] < meet->above) ++keep;
          if (keep > 0) meet->below = ids[keep - 1];
        } else {
          while (keep < n && ids[keep] > meet->below) ++keep;
          if (keep > 0) meet->above = ids[keep - 1];
        }
      }
      rows.resize(rows.size() - static_cast<std::size_t>(n - keep));
      if (origins) origins->resize(origins->size() - static_cast<std::size_t>(n - keep));
      tick(static_cast<std::uint32_t>(keep));
      if (keep < n || n < kBatch) return;
    }
  }

  // The smallest and largest id of a table (0, 0 when empty).  Two
  // subqueries: SQLite's min/max optimization (O(log n)) is for a lone min()
  // or max(); `SELECT min(id), max(id)` scans the table.
  struct IdSpan {
    std::int64_t min = 0, max = 0;
  };
  IdSpan id_span(const char* table) {
    const std::string t = table;
    sql::Stmt s(db_, "SELECT (SELECT min(id) FROM " + t + "), (SELECT max(id) FROM " + t + ")");
    return s.step() && !s.null(0) ? IdSpan{s.i64(0), s.i64(1)} : IdSpan{};
  }

  // What identifies the commit a connection's snapshot sees.
  static std::pair<std::int64_t, std::int64_t> snapshot_mark(sqlite3* db) {
    sql::Stmt s(db, std::string("SELECT (") + kLastSeqSql + "), (SELECT last_commit_ns FROM run LIMIT 1), "
                    "(SELECT end_state = 'stopped' FROM run LIMIT 1)");
    if (!s.step()) return {0, 0};
    return {s.i64(0), s.i64(1) * 2 + s.i64(2)};
  }

  void load_all(const LoadOptions& opts) {
    auto progress = [&](double f) {
      if (opts.progress && !opts.progress(f)) throw LoadCancelled();
    };
    progress(0);
    read_enums();
    read_run();
    read_sites();
    read_stacks();
    read_tests();
    const IdSpan thread_ids = id_span("threads"), ctx_ids = id_span("contexts"), wait_ids = id_span("waits");
    // Row counts, for reserving the arrays and the progress bar, are bounded
    // by each table's id span and by the run's event count (every row came
    // from an event); no count(*), which reads every page of a table (16-25 ms
    // for the three at 1 M events: a tenth of a load).  Reserved room that
    // stays unused is address space only (the arrays are mapped, and pages
    // are touched when written).  A prefix: ids below a cut in each table.
    const bool preview = opts.prefix < 1.0;
    const auto cut = [f = std::max(0.0, opts.prefix)](const IdSpan& s) {
      return s.min + static_cast<std::int64_t>(std::ceil(f * static_cast<double>(s.max - s.min + 1)));
    };
    const auto rows = [&](const IdSpan& s) {
      std::int64_t n = s.max >= s.min && s.max > 0 ? (preview ? cut(s) : s.max + 1) - s.min : 0;
      if (m_.run_.events > 0) n = std::min(n, static_cast<std::int64_t>(m_.run_.events));
      return std::max<std::int64_t>(n, 0);
    };
    const std::int64_t n_threads = rows(thread_ids), n_ctx = rows(ctx_ids), n_waits = rows(wait_ids);
    const double total = std::max<double>(1.0, static_cast<double>(n_threads + n_ctx + n_waits));

    // Large files are read by two connections at once (SQLite's per-column
    // cost is most of a load): the lower ids of each table here, the upper
    // ones on a second connection on another core, meeting where their
    // speeds put them (Meet).  Both must see the same commit, or the second
    // reads nothing and this one reads every row.
    const std::int64_t lo[3] = {thread_ids.min, ctx_ids.min, wait_ids.min};
    std::int64_t hi[3] = {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max(),
                          std::numeric_limits<std::int64_t>::max()};
    if (preview) hi[0] = cut(thread_ids), hi[1] = cut(ctx_ids), hi[2] = cut(wait_ids);
    Part lower, upper;
    Meet meets[3];
    auto reserve = [&](Part& p) {  // address space: pages are touched when written
      auto n = [&](std::int64_t rows) { return static_cast<std::size_t>(rows) + kBatch; };
      p.thread_rows.reserve(n(n_threads));
      p.context_rows.reserve(n(n_ctx));
      p.origin_ids.reserve(n(n_ctx));
      p.wait_rows.reserve(n(n_waits));
    };
    std::atomic<std::uint64_t> rows_done{0};
    std::atomic<bool> stop{false};
    std::uint32_t since_progress = 0;
    auto here_tick = [&](std::uint32_t n) {
      const auto done = rows_done.fetch_add(n, std::memory_order_relaxed) + n;
      if ((since_progress += n) < 4096) return;
      since_progress = 0;
      progress(0.95 * std::min(1.0, static_cast<double>(done) / total));
    };
    // Reads every table on `db` (`down`: the upper reader).
    static constexpr const char* kTable[3] = {"threads", "contexts", "waits"};
    auto read_all = [&](sqlite3* db, Part& p, bool down, Meet* meet, auto& tick) {
      read_table(db, kTable[0], lo[0], hi[0], meet, down, p.thread_rows, nullptr, tick);
      p.done[0] = true;
      read_table(db, kTable[1], lo[1], hi[1], meet ? meet + 1 : nullptr, down, p.context_rows, &p.origin_ids, tick);
      p.done[1] = true;
      read_table(db, kTable[2], lo[2], hi[2], meet ? meet + 2 : nullptr, down, p.wait_rows, nullptr, tick);
      p.done[2] = true;
    };
    sql::Connection sibling;
    if (opts.parallel && !preview && total >= static_cast<double>(opts.parallel_min_rows)) sibling = open_sibling(db_);
    m_.ctx_ids_.reserve(static_cast<std::uint64_t>(std::max<std::int64_t>(ctx_ids.max, 0)), static_cast<std::size_t>(n_ctx));
    m_.wait_ids_.reserve(static_cast<std::uint64_t>(std::max<std::int64_t>(wait_ids.max, 0)),
                         static_cast<std::size_t>(n_waits));
    origin_fixups_.reserve(static_cast<std::size_t>(n_ctx));
    reserve(lower);
    if (!sibling) {
      read_all(db_, lower, false, nullptr, here_tick);
    } else {
      reserve(upper);
      const auto mark = snapshot_mark(db_);  // under the caller's snapshot
      auto upper_tick = [&](std::uint32_t n) {
        rows_done.fetch_add(n, std::memory_order_relaxed);
        if (stop.load(std::memory_order_relaxed)) throw LoadCancelled();
      };
      std::thread worker;
      try {
        worker = std::thread([&] {
          try {
            sql::ReadSnapshot snap(sibling.get());
            if (snapshot_mark(sibling.get()) != mark) return;  // a commit came between the two snapshots
            read_all(sibling.get(), upper, true, meets, upper_tick);
          } catch (...) {  // cancelled, or an SQL error: what it took is read again below
          }
        });
      } catch (const std::system_error&) {  // no thread: read it all here
      }
      const bool started = worker.joinable();
      try {
        read_all(db_, lower, false, started ? meets : nullptr, here_tick);
      } catch (...) {
        stop.store(true);
        if (worker.joinable()) worker.join();
        throw;
      }
      if (worker.joinable()) worker.join();
      // Each table: the upper reader's rows put in ascending order after the
      // lower's, rows moved across the meeting point so that the lower fill
      // whole chunks (adopted below without copying one).  A table the upper
      // reader did not finish: its rows dropped, the ids above the lower
      // reader's last read here.
      auto rest = [&](int t, auto& up_rows, auto& low_rows, std::vector<std::uint64_t>* up_origins,
                      std::vector<std::uint64_t>* low_origins) {
        if (upper.done[t]) {
          using T = typename std::decay_t<decltype(up_rows)>::value_type;
          const auto shift = detail::meeting_shift(low_rows.size(), up_rows.size(), ChunkedVector<T>::kPerChunk);
          detail::shift_meeting(low_rows, up_rows, shift);
          if (up_origins) detail::shift_meeting(*low_origins, *up_origins, shift);
          std::reverse(up_rows.begin(), up_rows.end());
          if (up_origins) std::reverse(up_origins->begin(), up_origins->end());
          return;
        }
        up_rows.clear();
        if (up_origins) up_origins->clear();
        const std::int64_t from = meets[t].below == std::numeric_limits<std::int64_t>::min() ? lo[t] : meets[t].below + 1;
        read_table(db_, kTable[t], from, hi[t], nullptr, false, low_rows, low_origins, here_tick);
      };
      if (started) {
        rest(0, upper.thread_rows, lower.thread_rows, nullptr, nullptr);
        rest(1, upper.context_rows, lower.context_rows, &upper.origin_ids, &lower.origin_ids);
        rest(2, upper.wait_rows, lower.wait_rows, nullptr, nullptr);
      }
    }
    // The lower ids first, so every table stays in id order; the first part's
    // rows are adopted whole, the second's appended.
    for (Part* p : {&lower, &upper}) {
      adopt(m_.threads_, p->thread_rows, [&](std::uint32_t i, std::size_t) { index_thread(i); });
      adopt(m_.contexts_, p->context_rows, [&](std::uint32_t i, std::size_t row) {
        m_.ctx_ids_.insert(m_.contexts_[i].id, i);
        origin_fixups_.emplace_back(i, p->origin_ids[row]);
      });
      adopt(m_.waits_, p->wait_rows,
            [&](std::uint32_t i, std::size_t) { m_.wait_ids_.insert(m_.waits_[i].id, i); });
      *p = Part{};
    }
    m_.last_seq_ = max_seq();
    link_all(/*parallel=*/static_cast<bool>(sibling));
    progress(1);
  }

  // The tests table is small (one row per test): read whole.
  bool read_tests() {
    std::vector<TestCase> v;
    sql::Stmt s(db_, "SELECT id, kind, name, thread, begin_ns, end_ns, result FROM tests ORDER BY id");
    while (s.step()) {
      TestCase t;
      t.id = static_cast<std::uint32_t>(s.i64(0));
      t.kind = code_or_none(s, 1);
      t.name = s.text(2);
      t.thread = static_cast<std::uint32_t>(s.i64(3));
      t.begin_ns = t_or_none(s, 4);
      t.end_ns = t_or_none(s, 5);
      t.result = code_or_none(s, 6);
      v.push_back(std::move(t));
    }
    const bool changed = v != m_.tests_;
    m_.tests_ = std::move(v);
    return changed;
  }

  std::int64_t max_seq() {
    sql::Stmt s(db_, kLastSeqSql);
    return s.step() && !s.null(0) ? s.i64(0) : 0;
  }

  void add_thread(Thread t) {
    m_.threads_.push_back(std::move(t));
    index_thread(static_cast<std::uint32_t>(m_.threads_.size() - 1));
  }
  void index_thread(std::uint32_t idx) {
    const std::uint32_t id = m_.threads_[idx].id;
    if (id >= m_.thread_index_.size()) m_.thread_index_.resize(std::size_t{id} + 1, kNoIndex);
    m_.thread_index_[id] = idx;
  }
  // Moves `rows` to the end of `to` (whole when `to` is empty) and calls
  // index(i, row) for each: its index in `to`, and in `rows`.
  template <class T, class Index>
  static void adopt(ChunkedVector<T>& to, detail::BigVector<T>& rows, Index&& index) {
    const auto first = static_cast<std::uint32_t>(to.size());
    to.adopt(std::move(rows));
    for (auto i = first; i < to.size(); ++i) index(i, std::size_t{i - first});
  }
  void add_context(Context c, std::uint64_t origin_id) {
    const auto idx = static_cast<std::uint32_t>(m_.contexts_.size());
    m_.ctx_ids_.insert(c.id, idx);
    m_.contexts_.push_back(std::move(c));
    origin_fixups_.emplace_back(idx, origin_id);
  }
  void add_wait(Wait w) {
    const auto idx = static_cast<std::uint32_t>(m_.waits_.size());
    m_.wait_ids_.insert(w.id, idx);
    m_.waits_.push_back(std::move(w));
  }

  // Effective done source: value contexts share their parent's done;
  // background, todo and without_cancel are never done.  `by_id`: follow
  // parent ids instead of the parent links — the same answer once every id
  // is indexed (a whole load), reading nothing link_context() writes, so
  // the waits are linked while the tree is.
  std::uint32_t effective(std::uint32_t c, bool by_id = false) const {
    for (int hops = 0; c != kNoIndex && hops < 10000; ++hops) {
      const Context& x = m_.contexts_[c];
      if (x.cancelable()) return c;
      if (x.kind != static_cast<std::uint8_t>(ContextKind::value)) return kNoIndex;
      c = !by_id ? x.parent : x.parent_id ? m_.find_context(x.parent_id) : kNoIndex;
    }
    return kNoIndex;
  }

  // Links of one context to the rest (parent, origin), given its id fields.
  void link_context(std::uint32_t i, bool is_new) {
    Context& c = m_.contexts_.mut(i);
    if (is_new) {
      c.parent = c.parent_id ? m_.find_context(c.parent_id) : kNoIndex;
      if (c.parent == kNoIndex) {
        m_.roots_.push_back(i);
        if (c.parent_id) orphans_[c.parent_id].push_back(i);
      } else {
        insert_child(c.parent, i);
      }
      // Children whose rows came before this one (a damaged or partial file).
      if (auto it = orphans_.find(c.id); it != orphans_.end()) {
        for (std::uint32_t ch : it->second) {
          m_.contexts_.mut(ch).parent = i;
          std::erase(m_.roots_, ch);
          insert_child(i, ch);
        }
        orphans_.erase(it);
      }
    }
  }
  void insert_child(std::uint32_t parent, std::uint32_t child) {
    const std::int64_t t = m_.contexts_[child].created_ns;
    auto& ch = m_.contexts_.mut(parent).children;
    auto pos = std::upper_bound(ch.begin(), ch.end(), t,
                                [&](std::int64_t v, std::uint32_t x) { return v < m_.contexts_[x].created_ns; });
    ch.insert(pos, child);
  }

  void fix_origins() {
    for (auto [idx, origin_id] : origin_fixups_) {
      Context& c = m_.contexts_.mut(idx);
      if (c.cancel_reason == kReasonParent && origin_id) c.cancel_origin = m_.find_context(origin_id);
      else if (c.cancel_ns != kNoTime) c.cancel_origin = idx;
      else c.cancel_origin = kNoIndex;
    }
    origin_fixups_.clear();
  }

  static void grow(ChunkedVector<std::uint32_t>& v, std::size_t n) {
    if (v.size() < n) v.append(std::max(n, v.size() * 3 / 2) - v.size(), kNoIndex);
  }
  void unlink_eff_thread(std::uint32_t ctx, std::uint32_t thread) {
    if (m_.first_eff_thread_[ctx] == thread) {
      m_.first_eff_thread_.mut(ctx) = m_.next_eff_thread_[thread];
      return;
    }
    for (std::uint32_t at = m_.first_eff_thread_[ctx]; at != kNoIndex; at = m_.next_eff_thread_[at])
      if (m_.next_eff_thread_[at] == thread) {
        m_.next_eff_thread_.mut(at) = m_.next_eff_thread_[thread];
        return;
      }
  }

  void link_thread(std::uint32_t i) {
    Thread& t = m_.threads_.mut(i);
    const std::uint32_t before = t.effective_ctx;
    t.ctx = t.ctx_id ? m_.find_context(t.ctx_id) : kNoIndex;
    t.effective_ctx = effective(t.ctx);
    if (t.effective_ctx != before) {
      if (before != kNoIndex) unlink_eff_thread(before, i);
      if (t.effective_ctx != kNoIndex) {
        grow(m_.first_eff_thread_, m_.contexts_.size());
        grow(m_.next_eff_thread_, m_.threads_.size());
        m_.next_eff_thread_.mut(i) = m_.first_eff_thread_[t.effective_ctx];
        m_.first_eff_thread_.mut(t.effective_ctx) = i;
      }
    }
  }

  // `by_id`: the done source by parent ids (effective), for a whole load
  // that links the tree on another thread meanwhile.
  void link_wait(std::uint32_t i, bool is_new, bool by_id = false) {
    Wait& w = m_.waits_.mut(i);
    w.done_ctx = w.done_ctx_id ? m_.find_context(w.done_ctx_id) : kNoIndex;
    if (is_new && w.done_ctx != kNoIndex)
      if (std::uint32_t src = effective(w.done_ctx, by_id); src != kNoIndex) {
        grow(m_.first_observer_, m_.contexts_.size());
        grow(m_.next_observer_, m_.waits_.size());
        m_.next_observer_.mut(i) = m_.first_observer_[src];
        m_.first_observer_.mut(src) = i;
      }
    if (is_new) {
      if (std::uint32_t t = m_.find_thread(w.thread); t != kNoIndex) {
        auto& ws = m_.threads_.mut(t).waits;
        auto pos = std::upper_bound(ws.begin(), ws.end(), w.begin_ns,
                                    [&](std::int64_t v, std::uint32_t x) { return v < m_.waits_[x].begin_ns; });
        ws.insert(pos, i);
      } else {
        unthreaded_waits_.push_back(i);
      }
    }
  }

  // The edges of one wait: at most one woke and one missed edge.
  template <class V>
  void edges_for_wait(std::uint32_t i, V& out) const {
    const Wait& w = m_.waits_[i];
    auto edge = [&](WakeEdge::Kind k, std::uint32_t ctx) {
      const Context& c = m_.contexts_[ctx];
      WakeEdge e;
      e.kind = k;
      e.wait = i;
      e.context = ctx;
      e.origin = c.cancel_origin != kNoIndex ? c.cancel_origin : ctx;
      e.cancel_ns = c.cancel_ns;
      e.cancel_thread = c.cancel_thread;
      e.wake_ns = k == WakeEdge::Kind::woke ? w.end_ns : kNoTime;
      out.push_back(e);
    };
    if (w.observes_context()) {
      if (w.outcome == kOutcomeDone) {
        const std::uint32_t src = effective(w.done_ctx);
        if (src != kNoIndex && m_.contexts_[src].cancel_ns != kNoTime) edge(WakeEdge::Kind::woke, src);
      }
      return;
    }
    // Blind: blocked while its thread's context was done.
    const std::uint32_t t = m_.find_thread(w.thread);
    if (t == kNoIndex) return;
    const std::uint32_t eff = m_.threads_[t].effective_ctx;
    if (eff == kNoIndex) return;
    const std::int64_t done = m_.contexts_[eff].cancel_ns;
    if (done == kNoTime) return;
    if (w.end_ns == kNoTime || w.end_ns > done) edge(WakeEdge::Kind::missed, eff);
  }

  void rebuild_edges() {
    m_.edges_.clear();
    for (std::uint32_t i = 0; i < m_.waits_.size(); ++i) edges_for_wait(i, m_.edges_);
  }

  void rebuild_time_indices() {
    rebuild_ctx_time_index();
    rebuild_wait_time_index();
    if (m_.moments_->ready.load(std::memory_order_relaxed)) compute_moments(m_, m_.moments_->v);
  }
  void rebuild_ctx_time_index() {
    m_.ctx_by_time_.clear();
    m_.ctx_by_time_.adopt(order_by_time(m_.contexts_.size(), [&](std::uint32_t i) { return created(i); }));
  }
  void rebuild_wait_time_index() {
    m_.waits_by_time_.clear();
    m_.waits_by_time_.adopt(order_by_time(m_.waits_.size(), [&](std::uint32_t i) { return begun(i); }));
  }

  // The indices 0..n-1 ordered by time(i), ties by index: a stable
  // LSD radix sort of (time, index) pairs, 11 bits a pass, skipping the
  // digits no two times differ in (a run's relative times span ~35 bits: 4
  // passes), and none at all when the rows already come in time order (one
  // recording thread).  A comparison sort reading the times from the rows
  // was 40 ms at 1M events, the longest step of a load's linking.
  template <class Time>
  static detail::BigVector<std::uint32_t> order_by_time(std::size_t n, Time&& time) {
    struct Key {
      std::uint64_t t;
      std::uint32_t i;
    };
    std::vector<Key> a(n);
    bool sorted = true;
    std::uint64_t any = 0, all = ~std::uint64_t{0};
    for (std::uint32_t i = 0; i < n; ++i) {
      // Signed order as unsigned (the sign bit flipped): -1, no time, first;
      // a damaged file's negative times before it, as a comparison would.
      const auto t = static_cast<std::uint64_t>(time(i)) ^ (std::uint64_t{1} << 63);
      sorted = sorted && (i == 0 || a[i - 1].t <= t);
      a[i] = {t, i};
      any |= t;
      all &= t;
    }
    if (!sorted) {
      constexpr int kBits = 11;
      constexpr std::size_t kBuckets = std::size_t{1} << kBits;
      const std::uint64_t differ = any ^ all;
      std::vector<Key> b(n);
      std::vector<std::size_t> at(kBuckets);
      for (int shift = 0; shift < 64; shift += kBits) {
        if (((differ >> shift) & (kBuckets - 1)) == 0) continue;  // every key has the same digit here
        std::fill(at.begin(), at.end(), 0);
        for (const Key& k : a) ++at[(k.t >> shift) & (kBuckets - 1)];
        std::size_t sum = 0;
        for (auto& c : at) sum += std::exchange(c, sum);
        for (const Key& k : a) b[at[(k.t >> shift) & (kBuckets - 1)]++] = k;
        a.swap(b);
      }
    }
    // Room past the end: a live model's updates append to the index in place.
    detail::BigVector<std::uint32_t> out;
    out.reserve(n + n / 8 + 1024);
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = a[i].i;
    return out;
  }

  // Every instant at which something changes, sorted and unique.
  static void compute_moments(const TraceModel& m, std::vector<std::int64_t>& mo) {
    mo.clear();
    for (const Context& c : m.contexts_)
      for (std::int64_t t : {c.created_ns, c.cancel_ns, c.released_ns, c.dropped_ns, c.cancel_called_ns})
        if (t != kNoTime) mo.push_back(t);
    for (const Wait& w : m.waits_)
      for (std::int64_t t : {w.begin_ns, w.end_ns})
        if (t != kNoTime) mo.push_back(t);
    for (const Thread& th : m.threads_)
      for (std::int64_t t : {th.spawn_ns, th.exit_ns})
        if (t != kNoTime) mo.push_back(t);
    std::sort(mo.begin(), mo.end());
    mo.erase(std::unique(mo.begin(), mo.end()), mo.end());
  }
  std::int64_t created(std::uint32_t i) const {
    const std::int64_t t = m_.contexts_[i].created_ns;
    return t == kNoTime ? -1 : t;  // background/todo: before everything
  }
  std::int64_t begun(std::uint32_t i) const {
    const std::int64_t t = m_.waits_[i].begin_ns;
    return t == kNoTime ? -1 : t;
  }

  // `parallel`: two lanes.  A second thread sorts the waits by time and
  // links them, while this one links the context tree, the origins and the
  // threads and sorts the contexts by time; the edges, which read both, come
  // after.  No field is written by both lanes, and none one lane writes is
  // read by the other: the waits' lane reads begin times and contexts' kinds
  // and parent ids (effective, by id) and writes the waits, their time
  // index, the observer lists and each thread's `waits`; this lane writes the
  // tree links, origins, the contexts' time index and threads' context fields
  // and lists.  mut() of the loaded arrays writes no chunk bookkeeping (a
  // load's chunks are all its own), so both lanes may call it.
  void link_all(bool parallel = false) {
    auto second_lane = [this] {
      rebuild_wait_time_index();
      for (std::uint32_t i = 0; i < m_.waits_.size(); ++i) link_wait(i, true, /*by_id=*/true);
    };
    std::exception_ptr second_failed;
    std::jthread second;  // joined on every way out, exceptions included
    if (parallel) {
      try {
        second = std::jthread([&] {
          try {
            second_lane();
          } catch (...) {
            second_failed = std::current_exception();
          }
        });
      } catch (const std::system_error&) {  // no thread: run below
      }
    }
    for (std::uint32_t i = 0; i < m_.contexts_.size(); ++i) link_context(i, true);
    fix_origins();
    for (std::uint32_t i = 0; i < m_.threads_.size(); ++i) link_thread(i);
    rebuild_ctx_time_index();
    if (second.joinable()) second.join();
    else second_lane();
    if (second_failed) std::rethrow_exception(second_failed);
    rebuild_edges();
  }

  // ---- incremental update --------------------------------------------------

  ModelDelta update() {
    ModelDelta d;
    const std::int64_t newest = max_seq();
    d.run_changed = read_run();
    if (newest <= m_.last_seq_) return d;

    std::unordered_set<std::uint64_t> ctx_ids, wait_ids;
    std::unordered_set<std::uint32_t> thread_ids;
    bool tests_changed = false;
    {
      // Event types (docs/trace-schema.md, enumeration `event`): 1-5 name a
      // context, 6-7 a wait, 8-9 a thread; every event names its thread.
      // Decoded here from the blocks that can hold seq > last (the view
      // `events` would walk every block).
      detail::for_each_event_after(db_, m_.last_seq_, [&](const detail::BlockEvent& e) {
        const int type = e.type();
        thread_ids.insert(e.thread);
        if (type >= 1 && type <= 5) ctx_ids.insert(e.id);
        else if (type == 6 || type == 7) wait_ids.insert(e.id);
        else if (type == 8 || type == 9) thread_ids.insert(static_cast<std::uint32_t>(e.id));
        else if (type == 12 || type == 13) tests_changed = true;
      });
    }
    if (tests_changed) d.tests_changed = read_tests();
    read_sites();
    read_stacks();

    std::vector<std::uint32_t> changed_ctx_idx;
    bool resort_needed = false;
    {
      sql::Stmt s(db_, std::string("SELECT ") + kCtxCols + " FROM contexts WHERE id = ?");
      std::vector<std::uint64_t> ids(ctx_ids.begin(), ctx_ids.end());
      std::sort(ids.begin(), ids.end());
      for (std::uint64_t id : ids) {
        s.bind(1, static_cast<std::int64_t>(id));
        if (s.step()) {
          std::uint64_t origin_id = 0;
          Context c = read_context(s, origin_id);
          if (std::uint32_t i = m_.find_context(id); i != kNoIndex) {
            Context& old = m_.contexts_.mut(i);
            resort_needed |= old.created_ns != c.created_ns;
            c.parent = old.parent;
            c.children = std::move(old.children);
            old = std::move(c);
            origin_fixups_.emplace_back(i, origin_id);
            d.changed_contexts.push_back(i);
          } else {
            add_context(std::move(c), origin_id);
            d.new_contexts.push_back(static_cast<std::uint32_t>(m_.contexts_.size() - 1));
          }
        }
        s.reset();
      }
      // Parents first: new contexts in creation order link to parents read in the same batch.
      for (std::uint32_t i : d.new_contexts) link_context(i, true);
      fix_origins();
      changed_ctx_idx = d.changed_contexts;
      changed_ctx_idx.insert(changed_ctx_idx.end(), d.new_contexts.begin(), d.new_contexts.end());
    }
    {
      sql::Stmt s(db_, std::string("SELECT ") + kThreadCols + " FROM threads WHERE id = ?");
      std::vector<std::uint32_t> ids(thread_ids.begin(), thread_ids.end());
      std::sort(ids.begin(), ids.end());
      for (std::uint32_t id : ids) {
        s.bind(1, id);
        if (s.step()) {
          Thread t = read_thread(s);
          if (std::uint32_t i = m_.find_thread(id); i != kNoIndex) {
            Thread& old = m_.threads_.mut(i);
            const bool same = old.name == t.name && old.ctx_id == t.ctx_id && old.spawn_ns == t.spawn_ns &&
                              old.exit_ns == t.exit_ns && old.first_ns == t.first_ns;
            t.waits = std::move(old.waits);
            t.ctx = old.ctx;
            t.effective_ctx = old.effective_ctx;  // link_thread() moves the reverse link if it changes
            old = std::move(t);
            link_thread(i);
            if (!same) d.changed_threads.push_back(i);
          } else {
            add_thread(std::move(t));
            const auto ni = static_cast<std::uint32_t>(m_.threads_.size() - 1);
            link_thread(ni);
            d.new_threads.push_back(ni);
            adopt_unthreaded_waits(ni);
          }
        }
        s.reset();
      }
      // A thread's effective context may have been created in this batch.
      for (std::uint32_t i = 0; i < m_.threads_.size(); ++i)
        if (m_.threads_[i].ctx == kNoIndex && m_.threads_[i].ctx_id) link_thread(i);
    }
    {
      sql::Stmt s(db_, std::string("SELECT ") + kWaitCols + " FROM waits WHERE id = ?");
      std::vector<std::uint64_t> ids(wait_ids.begin(), wait_ids.end());
      std::sort(ids.begin(), ids.end());
      for (std::uint64_t id : ids) {
        s.bind(1, static_cast<std::int64_t>(id));
        if (s.step()) {
          Wait w = read_wait(s);
          if (std::uint32_t i = m_.find_wait(id); i != kNoIndex) {
            resort_needed |= m_.waits_[i].begin_ns != w.begin_ns;
            m_.waits_.mut(i) = std::move(w);
            link_wait(i, false);
            d.changed_waits.push_back(i);
          } else {
            add_wait(std::move(w));
            const auto ni = static_cast<std::uint32_t>(m_.waits_.size() - 1);
            link_wait(ni, true);
            d.new_waits.push_back(ni);
          }
        }
        s.reset();
      }
    }
    // Derived data, touching only what this batch can change: the edges of
    // the waits it names and of the waits under the contexts it names, and
    // the new entries of the time indices (an update must cost what the batch
    // costs, not what the trace costs).
    std::vector<std::uint32_t> affected = d.new_waits;
    affected.insert(affected.end(), d.changed_waits.begin(), d.changed_waits.end());
    for (std::uint32_t c : changed_ctx_idx) {
      if (c < m_.first_observer_.size())
        for (std::uint32_t w = m_.first_observer_[c]; w != kNoIndex; w = m_.next_observer_[w]) affected.push_back(w);
      if (c < m_.first_eff_thread_.size())
        for (std::uint32_t t = m_.first_eff_thread_[c]; t != kNoIndex; t = m_.next_eff_thread_[t])
          affected.insert(affected.end(), m_.threads_[t].waits.begin(), m_.threads_[t].waits.end());
    }
    for (auto* list : {&d.new_threads, &d.changed_threads})
      for (std::uint32_t t : *list)
        affected.insert(affected.end(), m_.threads_[t].waits.begin(), m_.threads_[t].waits.end());
    d.edges_changed_from = update_edges(std::move(affected));
    d.edges_changed = d.edges_changed_from != ModelDelta::kNoEdge;
    update_time_indices(d, resort_needed);
    m_.last_seq_ = newest;
    return d;
  }

  // Recomputes the edges of `waits`; returns where the rewritten edges begin
  // (ModelDelta::kNoEdge: none changed).  Edges are kept in wait order: only
  // the tail from the first affected wait is rewritten (the waits a batch
  // names are nearly always the newest), so an update costs that tail, not
  // every edge of the trace.
  std::size_t update_edges(std::vector<std::uint32_t> waits) {
    if (waits.empty()) return ModelDelta::kNoEdge;
    std::sort(waits.begin(), waits.end());
    waits.erase(std::unique(waits.begin(), waits.end()), waits.end());
    auto& edges = m_.edges_;
    auto in = [&](std::uint32_t w) { return std::binary_search(waits.begin(), waits.end(), w); };
    const auto from = static_cast<std::size_t>(
        std::lower_bound(edges.begin(), edges.end(), waits.front(),
                         [](const WakeEdge& e, std::uint32_t w) { return e.wait < w; }) -
        edges.begin());
    std::vector<WakeEdge> removed, kept, fresh;
    for (std::size_t i = from; i < edges.size(); ++i) (in(edges[i].wait) ? removed : kept).push_back(edges[i]);
    for (std::uint32_t w : waits) edges_for_wait(w, fresh);
    const bool same = std::equal(removed.begin(), removed.end(), fresh.begin(), fresh.end(),
                                 [](const WakeEdge& a, const WakeEdge& b) {
                                   return a.wait == b.wait && a.kind == b.kind && a.context == b.context &&
                                          a.origin == b.origin && a.cancel_ns == b.cancel_ns &&
                                          a.wake_ns == b.wake_ns;
                                 });
    if (same) return ModelDelta::kNoEdge;
    std::vector<WakeEdge> tail;
    tail.reserve(kept.size() + fresh.size());
    // Stable: a wait's edges stay in the order edges_for_wait made them.
    std::merge(kept.begin(), kept.end(), fresh.begin(), fresh.end(), std::back_inserter(tail),
               [](const WakeEdge& a, const WakeEdge& b) { return a.wait < b.wait; });
    edges.truncate(from);
    edges.append(tail.begin(), tail.end());
    return from;
  }

  // Appends the new entities to the time indices (merging when one sorts
  // before the newest already there) and their times to the moments.
  void update_time_indices(const ModelDelta& d, bool resort) {
    if (resort) {
      rebuild_time_indices();
      return;
    }
    // Only the part of the index at or after the first new key is rewritten.
    auto merge_in = [](ChunkedVector<std::uint32_t>& index, std::vector<std::uint32_t> fresh, auto key) {
      if (fresh.empty()) return;
      auto less = [&](std::uint32_t a, std::uint32_t b) { return key(a) != key(b) ? key(a) < key(b) : a < b; };
      std::sort(fresh.begin(), fresh.end(), less);
      const auto from =
          static_cast<std::size_t>(std::lower_bound(index.begin(), index.end(), fresh.front(), less) - index.begin());
      std::vector<std::uint32_t> tail;
      tail.reserve(index.size() - from + fresh.size());
      std::merge(index.begin() + static_cast<std::ptrdiff_t>(from), index.end(), fresh.begin(), fresh.end(),
                 std::back_inserter(tail), less);
      index.truncate(from);
      index.append(tail.begin(), tail.end());
    };
    merge_in(m_.ctx_by_time_, d.new_contexts, [&](std::uint32_t i) { return created(i); });
    merge_in(m_.waits_by_time_, d.new_waits, [&](std::uint32_t i) { return begun(i); });
    std::vector<std::int64_t> times;
    auto add = [&](std::initializer_list<std::int64_t> ts) {
      for (std::int64_t t : ts)
        if (t != kNoTime) times.push_back(t);
    };
    for (auto* list : {&d.new_contexts, &d.changed_contexts})
      for (std::uint32_t i : *list) {
        const Context& c = m_.contexts_[i];
        add({c.created_ns, c.cancel_ns, c.released_ns, c.dropped_ns, c.cancel_called_ns});
      }
    for (auto* list : {&d.new_waits, &d.changed_waits})
      for (std::uint32_t i : *list) add({m_.waits_[i].begin_ns, m_.waits_[i].end_ns});
    for (auto* list : {&d.new_threads, &d.changed_threads})
      for (std::uint32_t i : *list) add({m_.threads_[i].spawn_ns, m_.threads_[i].exit_ns});
    std::sort(times.begin(), times.end());
    times.erase(std::unique(times.begin(), times.end()), times.end());
    if (!m_.moments_->ready.load(std::memory_order_relaxed)) return;  // computed whole on first use
    auto& mo = m_.moments_->v;
    for (std::int64_t t : times) {
      // New times are nearly always the newest: the search starts from the end.
      if (mo.empty() || t > mo.back()) {
        mo.push_back(t);
        continue;
      }
      auto it = std::lower_bound(mo.begin(), mo.end(), t);
      if (*it != t) mo.insert(it, t);
    }
  }

  void adopt_unthreaded_waits(std::uint32_t thread_idx) {
    const std::uint32_t tid = m_.threads_[thread_idx].id;
    auto& ws = m_.threads_.mut(thread_idx).waits;
    std::erase_if(unthreaded_waits_, [&](std::uint32_t w) {
      if (m_.waits_[w].thread != tid) return false;
      ws.push_back(w);
      return true;
    });
    std::sort(ws.begin(), ws.end(), [&](std::uint32_t a, std::uint32_t b) { return begun(a) < begun(b); });
  }

 private:
  TraceModel& m_;
  sqlite3* db_;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> origin_fixups_;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>>& orphans_ = m_.orphans_;
  std::vector<std::uint32_t>& unthreaded_waits_ = m_.unthreaded_waits_;
};


void ModelDelta::merge(const ModelDelta& next) {
  // New stays new; what this delta added and `next` changed is still new.
  auto join = [](std::vector<std::uint32_t>& fresh, std::vector<std::uint32_t>& changed,
                 const std::vector<std::uint32_t>& next_fresh, const std::vector<std::uint32_t>& next_changed) {
    fresh.insert(fresh.end(), next_fresh.begin(), next_fresh.end());
    std::sort(fresh.begin(), fresh.end());
    fresh.erase(std::unique(fresh.begin(), fresh.end()), fresh.end());
    changed.insert(changed.end(), next_changed.begin(), next_changed.end());
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    std::erase_if(changed, [&](std::uint32_t i) { return std::binary_search(fresh.begin(), fresh.end(), i); });
  };
  join(new_contexts, changed_contexts, next.new_contexts, next.changed_contexts);
  join(new_threads, changed_threads, next.new_threads, next.changed_threads);
  join(new_waits, changed_waits, next.new_waits, next.changed_waits);
  edges_changed |= next.edges_changed;
  edges_changed_from = std::min(edges_changed_from, next.edges_changed_from);
  run_changed |= next.run_changed;
  tests_changed |= next.tests_changed;
}

TraceModel TraceModel::load(sqlite3* db, const LoadOptions& opts) {
  TraceModel m;
  try {
    sql::ReadSnapshot snapshot(db);  // every read of a load or update sees one commit
    ModelBuilder(m, db).load_all(opts);
  } catch (const sql::Error& e) {
    throw ModelError(e.what());
  }
  return m;
}

ModelDelta TraceModel::update(sqlite3* db) {
  try {
    sql::ReadSnapshot snapshot(db);  // every read of a load or update sees one commit
    return ModelBuilder(*this, db).update();
  } catch (const sql::Error& e) {
    throw ModelError(e.what());
  }
}

TraceModel::TraceModel(const TraceModel& o)
    : run_(o.run_), contexts_(o.contexts_), threads_(o.threads_), waits_(o.waits_), edges_(o.edges_),
      sites_(o.sites_), stacks_(o.stacks_), tests_(o.tests_), roots_(o.roots_), ctx_by_time_(o.ctx_by_time_),
      waits_by_time_(o.waits_by_time_), enum_names_(o.enum_names_), ctx_ids_(o.ctx_ids_), wait_ids_(o.wait_ids_),
      thread_index_(o.thread_index_), site_ids_(o.site_ids_), stack_ids_(o.stack_ids_), site_index_(o.site_index_),
      orphans_(o.orphans_), unthreaded_waits_(o.unthreaded_waits_), first_observer_(o.first_observer_),
      next_observer_(o.next_observer_), first_eff_thread_(o.first_eff_thread_),
      next_eff_thread_(o.next_eff_thread_), last_seq_(o.last_seq_) {
  // The moments, when the original has computed them: copied, and this
  // copy's once-flag spent so they are not computed again.
  if (o.moments_->ready.load(std::memory_order_acquire)) {
    moments_->v = o.moments_->v;
    std::call_once(moments_->once, [] {});
    moments_->ready.store(true, std::memory_order_release);
  }
}

TraceModel& TraceModel::operator=(const TraceModel& o) {
  if (this != &o) *this = TraceModel(o);
  return *this;
}

std::uint32_t TraceModel::find_context(std::uint64_t id) const noexcept {
  return ctx_ids_.find(id);
}
std::uint32_t TraceModel::find_thread(std::uint32_t id) const noexcept {
  return id < thread_index_.size() ? thread_index_[id] : kNoIndex;
}
const TestCase* TraceModel::find_test(std::uint32_t id) const noexcept {
  auto it = std::lower_bound(tests_.begin(), tests_.end(), id, [](const TestCase& t, std::uint32_t v) { return t.id < v; });
  return it != tests_.end() && it->id == id ? &*it : nullptr;
}
std::uint32_t TraceModel::find_wait(std::uint64_t id) const noexcept {
  return wait_ids_.find(id);
}

const Site& TraceModel::site(std::uint32_t index) const noexcept {
  static const Site kUnknown;
  return index < sites_.size() ? sites_[index] : kUnknown;
}

std::vector<std::uint32_t> TraceModel::ancestry(std::uint32_t c) const {
  std::vector<std::uint32_t> out;
  while (c != kNoIndex && out.size() < contexts_.size()) {
    out.push_back(c);
    c = contexts_[c].parent;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::uint32_t> TraceModel::edges_of_wait(std::uint32_t wait) const {
  std::vector<std::uint32_t> out;
  // Edges are built in wait order: binary search the first edge of `wait`.
  auto it = std::lower_bound(edges_.begin(), edges_.end(), wait,
                             [](const WakeEdge& e, std::uint32_t w) { return e.wait < w; });
  for (; it != edges_.end() && it->wait == wait; ++it) out.push_back(static_cast<std::uint32_t>(it - edges_.begin()));
  return out;
}

std::vector<std::uint32_t> TraceModel::edges_from(std::uint32_t origin) const {
  std::vector<std::uint32_t> out;
  for (std::uint32_t i = 0; i < edges_.size(); ++i)
    if (edges_[i].origin == origin) out.push_back(i);
  return out;
}

std::string TraceModel::name_of(std::string_view type, std::uint8_t code) const {
  if (code == kNoCode) return "";
  return detail::enum_name(enum_names_, type, code);
}

ContextState TraceModel::context_state(std::uint32_t i, std::int64_t t) const noexcept {
  const Context& c = contexts_[i];
  if (c.created_ns != kNoTime && t < c.created_ns) return ContextState::not_created;
  if (c.cancel_ns != kNoTime && c.cancel_ns <= t) {
    switch (c.cancel_reason) {
      case kReasonExplicit: return ContextState::cancelled_explicit;
      case kReasonParent: return ContextState::cancelled_by_parent;
      case kReasonDeadline: return ContextState::deadline_exceeded;
      case kReasonBornDone: return ContextState::born_done;
      default: return ContextState::cancelled_explicit;
    }
  }
  if (c.released_ns != kNoTime && c.released_ns <= t && c.release_reason == kReleaseDestroyed)
    return ContextState::released;
  return ContextState::live;
}

WaitState TraceModel::wait_state(std::uint32_t i, std::int64_t t) const noexcept {
  const Wait& w = waits_[i];
  if (w.begin_ns == kNoTime || t < w.begin_ns) return WaitState::not_begun;
  if (w.end_ns == kNoTime || t < w.end_ns) return WaitState::blocked;
  return w.outcome == kOutcomeDone ? WaitState::ended_done : WaitState::ended_value;
}

std::size_t TraceModel::contexts_created_by(std::int64_t t) const noexcept {
  auto it = std::upper_bound(ctx_by_time_.begin(), ctx_by_time_.end(), t, [&](std::int64_t v, std::uint32_t x) {
    const std::int64_t c = contexts_[x].created_ns;
    return v < (c == kNoTime ? -1 : c);
  });
  return static_cast<std::size_t>(it - ctx_by_time_.begin());
}

std::size_t TraceModel::waits_begun_by(std::int64_t t) const noexcept {
  auto it = std::upper_bound(waits_by_time_.begin(), waits_by_time_.end(), t, [&](std::int64_t v, std::uint32_t x) {
    const std::int64_t b = waits_[x].begin_ns;
    return v < (b == kNoTime ? -1 : b);
  });
  return static_cast<std::size_t>(it - waits_by_time_.begin());
}

std::span<const std::int64_t> TraceModel::moments() const {
  LazyMoments& l = *moments_;
  std::call_once(l.once, [&] {
    ModelBuilder::compute_moments(*this, l.v);
    l.ready.store(true, std::memory_order_relaxed);
  });
  return l.v;
}

std::int64_t TraceModel::next_moment(std::int64_t t) const {
  const auto mo = moments();
  auto it = std::upper_bound(mo.begin(), mo.end(), t);
  return it == mo.end() ? kNoTime : *it;
}
std::int64_t TraceModel::prev_moment(std::int64_t t) const {
  const auto mo = moments();
  auto it = std::lower_bound(mo.begin(), mo.end(), t);
  return it == mo.begin() ? kNoTime : *(it - 1);
}

std::size_t TraceModel::memory_bytes() const noexcept {
  std::size_t b = sizeof(*this);
  for (const Context& c : contexts_) b += sizeof(Context) + c.children.capacity() * 4 + c.label.capacity();
  for (const Thread& t : threads_) b += sizeof(Thread) + t.waits.capacity() * 4 + t.name.capacity();
  for (const Wait& w : waits_) b += sizeof(Wait) + w.label.capacity();
  b += edges_.memory_bytes();
  for (const Site& s : sites_) b += sizeof(Site) + s.file.capacity() + s.function.capacity();
  for (const auto& st : stacks_) b += sizeof(st) + st.size() * sizeof(Frame);
  b += ctx_by_time_.memory_bytes() + waits_by_time_.memory_bytes() + roots_.capacity() * 4 +
       moments_->v.capacity() * 8;
  b += ctx_ids_.memory_bytes() + wait_ids_.memory_bytes();
  b += first_observer_.memory_bytes() + next_observer_.memory_bytes() + first_eff_thread_.memory_bytes() +
       next_eff_thread_.memory_bytes();
  return b;
}

namespace detail {

// Dense while ids stay within a small multiple of the rows (the recorder's
// blocks of 1,024 ids per thread leave about a third of them used).
namespace {
constexpr std::uint64_t kDenseSlack = 1u << 20;
constexpr std::uint64_t kDenseStep = 1u << 16;
std::uint64_t dense_limit(std::size_t rows) { return 8 * static_cast<std::uint64_t>(rows) + kDenseSlack; }
}  // namespace

namespace {
constexpr std::size_t kHugePage = std::size_t{1} << 21;
std::size_t huge_round(std::size_t bytes) { return (bytes + kHugePage - 1) & ~(kHugePage - 1); }
}  // namespace

void* huge_alloc(std::size_t bytes) {
  const std::size_t len = huge_round(bytes);
  // Map one huge page more than needed and trim to a 2 MiB boundary: THP
  // backs only aligned 2 MiB ranges.
  void* raw = ::mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto base = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (base + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > base) ::munmap(raw, aligned - base);
  const std::uintptr_t end = base + len + kHugePage;
  if (end > aligned + len) ::munmap(reinterpret_cast<void*>(aligned + len), end - (aligned + len));
  ::madvise(reinterpret_cast<void*>(aligned), len, MADV_HUGEPAGE);  // advice: plain pages where THP is off
  return reinterpret_cast<void*>(aligned);
}

void huge_free(void* p, std::size_t bytes) noexcept {
  if (p) ::munmap(p, huge_round(bytes));
}

void IdIndex::reserve(std::uint64_t max_id, std::size_t rows) {
  // With room for kDenseStep ids more: a live model's first updates after a
  // load insert without growing the index (its growth is what crosses into a
  // fresh chunk, and a fresh huge page's first touch cost 4 ms here at times).
  if (max_id < dense_limit(rows) && max_id >= dense_.size())
    grow(std::min(max_id + 1 + kDenseStep, std::max(max_id + 1, dense_limit(rows))));
}

void IdIndex::insert(std::uint64_t id, std::uint32_t index) {
  ++rows_;
  // Grown by at most kDenseStep ids past the one inserted: a live model's
  // update grows the index by about what it adds, not by half the index (a
  // 3 MB fill of fresh pages on the first update after a load).
  if (id >= dense_.size() && id < dense_limit(rows_))
    grow(std::min(std::max<std::uint64_t>(id + 1, std::min(dense_.size() * 3 / 2, id + kDenseStep)), dense_limit(rows_)));
  if (id < dense_.size()) dense_.mut(id) = index;
  else sparse_[id] = index;
}

void IdIndex::grow(std::uint64_t size) {
  if (size > dense_.size()) dense_.append(size - dense_.size(), kNoIndex);
  // Ids that were beyond the vector move into it: find() looks in one place.
  for (auto it = sparse_.begin(); it != sparse_.end();)
    if (it->first < size) {
      dense_.mut(it->first) = it->second;
      it = sparse_.erase(it);
    } else {
      ++it;
    }
}

}  // namespace detail

std::string_view to_string(ContextState s) noexcept {
  switch (s) {
    case ContextState::not_created: return "not created";
    case ContextState::live: return "live";
    case ContextState::cancelled_explicit: return "cancelled";
    case ContextState::cancelled_by_parent: return "cancelled by parent";
    case ContextState::deadline_exceeded: return "deadline exceeded";
    case ContextState::born_done: return "born done";
    case ContextState::released: return "released";
  }
  return "?";
}

}  // namespace ctxscope::analysis
