// The trace model: entity rows of a trace read once into plain vectors, and
// the facts every consumer derives from them (tree links, wake edges, time
// indices) computed here once.  Incremental updates read only the rows the
// new events name (events.seq > the last one seen).
#include "ctxscope/analysis/trace_model.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <unordered_set>

#include "enum_names.hpp"
#include "sql.hpp"

namespace ctxscope::analysis {
namespace {

constexpr std::uint8_t kOutcomeDone = 2;
constexpr std::uint8_t kReasonExplicit = 0, kReasonParent = 1, kReasonDeadline = 2, kReasonBornDone = 3;
constexpr std::uint8_t kReleaseDestroyed = 2;

// NULL reads as 0: only a 0 needs the second call that tells the two apart
// (the load reads millions of columns; this halves the calls into SQLite).
std::int64_t t_or_none(const sql::Stmt& s, int c) {
  const std::int64_t v = s.i64(c);
  return v == 0 && s.null(c) ? kNoTime : v;
}
std::uint8_t code_or_none(const sql::Stmt& s, int c) {
  if (s.null(c)) return kNoCode;
  const std::int64_t v = s.i64(c);
  return v < 0 || v >= kNoCode ? kNoCode - 1 : static_cast<std::uint8_t>(v);  // 254: a code out of range
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
    if (s.null(c)) return kNoIndex;
    auto it = m_.stack_ids_.find(static_cast<std::uint64_t>(s.i64(c)));
    return it == m_.stack_ids_.end() ? kNoIndex : it->second;
  }

  Context read_context(const sql::Stmt& s) const {
    Context c;
    c.id = static_cast<std::uint64_t>(s.i64(0));
    c.parent_id = s.null(1) ? 0 : static_cast<std::uint64_t>(s.i64(1));
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
    cancel_origin_ids_.push_back(s.null(13) ? 0 : static_cast<std::uint64_t>(s.i64(13)));
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
    c.test = s.null(25) ? 0 : static_cast<std::uint32_t>(s.i64(25));
    return c;
  }

  Thread read_thread(const sql::Stmt& s) const {
    Thread t;
    t.id = static_cast<std::uint32_t>(s.i64(0));
    t.name = s.text(1);
    t.ctx_id = s.null(2) ? 0 : static_cast<std::uint64_t>(s.i64(2));
    t.parent_thread = static_cast<std::uint32_t>(s.i64(3));
    t.spawn_ns = t_or_none(s, 4);
    t.spawn_site = site_index(s, 5);
    t.exit_ns = t_or_none(s, 6);
    t.first_ns = t_or_none(s, 7);
    t.test = s.null(8) ? 0 : static_cast<std::uint32_t>(s.i64(8));
    t.runtime = is_runtime_thread_name(t.name);
    return t;
  }

  Wait read_wait(const sql::Stmt& s) const {
    Wait w;
    w.id = static_cast<std::uint64_t>(s.i64(0));
    w.thread = static_cast<std::uint32_t>(s.i64(1));
    w.object = code_or_none(s, 2);
    w.object_id = s.null(3) ? 0 : static_cast<std::uint64_t>(s.i64(3));
    w.label = s.text(4);
    w.done_ctx_id = s.null(5) ? 0 : static_cast<std::uint64_t>(s.i64(5));
    w.n_cases = s.null(6) ? 1 : static_cast<std::uint32_t>(s.i64(6));
    w.site = site_index(s, 7);
    w.begin_ns = t_or_none(s, 8);
    w.end_ns = t_or_none(s, 9);
    w.outcome = code_or_none(s, 10);
    w.case_index = s.null(11) ? -1 : static_cast<std::int32_t>(s.i64(11));
    return w;
  }

  // ---- whole load ----------------------------------------------------------

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
    const std::int64_t n_ctx = count("contexts"), n_waits = count("waits");
    const double total = std::max<double>(1.0, static_cast<double>(n_ctx + n_waits));
    m_.contexts_.reserve(static_cast<std::size_t>(n_ctx));
    m_.ctx_ids_.reserve(static_cast<std::size_t>(n_ctx));
    m_.waits_.reserve(static_cast<std::size_t>(n_waits));
    m_.wait_ids_.reserve(static_cast<std::size_t>(n_waits));
    double done = 0;
    {
      sql::Stmt s(db_, std::string("SELECT ") + kThreadCols + " FROM threads ORDER BY id");
      while (s.step()) add_thread(read_thread(s));
    }
    {
      sql::Stmt s(db_, std::string("SELECT ") + kCtxCols + " FROM contexts ORDER BY id");
      while (s.step()) {
        add_context(read_context(s));
        if ((++done, static_cast<std::uint64_t>(done) % 65536 == 0)) progress(done / total);
      }
    }
    {
      sql::Stmt s(db_, std::string("SELECT ") + kWaitCols + " FROM waits ORDER BY id");
      while (s.step()) {
        add_wait(read_wait(s));
        if ((++done, static_cast<std::uint64_t>(done) % 65536 == 0)) progress(done / total);
      }
    }
    m_.last_seq_ = max_seq();
    link_all();
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

  std::int64_t count(const char* table) {
    sql::Stmt s(db_, std::string("SELECT max(rowid) FROM ") + table);  // O(1); an estimate for progress
    return s.step() && !s.null(0) ? s.i64(0) : 0;
  }
  std::int64_t max_seq() {
    sql::Stmt s(db_, "SELECT max(seq) FROM events");
    return s.step() && !s.null(0) ? s.i64(0) : 0;
  }

  void add_thread(Thread t) {
    const std::uint32_t idx = static_cast<std::uint32_t>(m_.threads_.size());
    if (t.id >= m_.thread_index_.size()) m_.thread_index_.resize(std::size_t{t.id} + 1, kNoIndex);
    m_.thread_index_[t.id] = idx;
    m_.threads_.push_back(std::move(t));
  }
  void add_context(Context c) {
    const auto idx = static_cast<std::uint32_t>(m_.contexts_.size());
    m_.ctx_ids_.emplace(c.id, idx);
    m_.contexts_.push_back(std::move(c));
    origin_fixups_.emplace_back(idx, cancel_origin_ids_.back());
    cancel_origin_ids_.clear();
  }
  void add_wait(Wait w) {
    const auto idx = static_cast<std::uint32_t>(m_.waits_.size());
    m_.wait_ids_.emplace(w.id, idx);
    m_.waits_.push_back(std::move(w));
  }

  // Effective done source: value contexts share their parent's done;
  // background, todo and without_cancel are never done.
  std::uint32_t effective(std::uint32_t c) const {
    for (int hops = 0; c != kNoIndex && hops < 10000; ++hops) {
      const Context& x = m_.contexts_[c];
      if (x.cancelable()) return c;
      if (x.kind != static_cast<std::uint8_t>(ContextKind::value)) return kNoIndex;
      c = x.parent;
    }
    return kNoIndex;
  }

  // Links of one context to the rest (parent, origin), given its id fields.
  void link_context(std::uint32_t i, bool is_new) {
    Context& c = m_.contexts_[i];
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
          m_.contexts_[ch].parent = i;
          std::erase(m_.roots_, ch);
          insert_child(i, ch);
        }
        orphans_.erase(it);
      }
    }
  }
  void insert_child(std::uint32_t parent, std::uint32_t child) {
    auto& ch = m_.contexts_[parent].children;
    const std::int64_t t = m_.contexts_[child].created_ns;
    auto pos = std::upper_bound(ch.begin(), ch.end(), t,
                                [&](std::int64_t v, std::uint32_t x) { return v < m_.contexts_[x].created_ns; });
    ch.insert(pos, child);
  }

  void fix_origins() {
    for (auto [idx, origin_id] : origin_fixups_) {
      Context& c = m_.contexts_[idx];
      if (c.cancel_reason == kReasonParent && origin_id) c.cancel_origin = m_.find_context(origin_id);
      else if (c.cancel_ns != kNoTime) c.cancel_origin = idx;
      else c.cancel_origin = kNoIndex;
    }
    origin_fixups_.clear();
  }

  void link_thread(std::uint32_t i) {
    Thread& t = m_.threads_[i];
    const std::uint32_t before = t.effective_ctx;
    t.ctx = t.ctx_id ? m_.find_context(t.ctx_id) : kNoIndex;
    t.effective_ctx = effective(t.ctx);
    if (t.effective_ctx != before) {
      if (before != kNoIndex) std::erase(m_.threads_by_eff_[before], i);
      if (t.effective_ctx != kNoIndex) m_.threads_by_eff_[t.effective_ctx].push_back(i);
    }
  }

  void link_wait(std::uint32_t i, bool is_new) {
    Wait& w = m_.waits_[i];
    w.done_ctx = w.done_ctx_id ? m_.find_context(w.done_ctx_id) : kNoIndex;
    if (is_new && w.done_ctx != kNoIndex)
      if (std::uint32_t src = effective(w.done_ctx); src != kNoIndex) m_.observers_[src].push_back(i);
    if (is_new) {
      if (std::uint32_t t = m_.find_thread(w.thread); t != kNoIndex) {
        auto& ws = m_.threads_[t].waits;
        auto pos = std::upper_bound(ws.begin(), ws.end(), w.begin_ns,
                                    [&](std::int64_t v, std::uint32_t x) { return v < m_.waits_[x].begin_ns; });
        ws.insert(pos, i);
      } else {
        unthreaded_waits_.push_back(i);
      }
    }
  }

  // The edges of one wait: at most one woke and one missed edge.
  void edges_for_wait(std::uint32_t i, std::vector<WakeEdge>& out) const {
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
    auto& cb = m_.ctx_by_time_;
    cb.resize(m_.contexts_.size());
    for (std::uint32_t i = 0; i < cb.size(); ++i) cb[i] = i;
    std::sort(cb.begin(), cb.end(), [&](std::uint32_t a, std::uint32_t b) {
      return created(a) != created(b) ? created(a) < created(b) : a < b;
    });
    auto& wb = m_.waits_by_time_;
    wb.resize(m_.waits_.size());
    for (std::uint32_t i = 0; i < wb.size(); ++i) wb[i] = i;
    std::sort(wb.begin(), wb.end(), [&](std::uint32_t a, std::uint32_t b) {
      return begun(a) != begun(b) ? begun(a) < begun(b) : a < b;
    });
    if (m_.moments_->ready.load(std::memory_order_relaxed)) compute_moments(m_, m_.moments_->v);
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

  void link_all() {
    for (std::uint32_t i = 0; i < m_.contexts_.size(); ++i) link_context(i, true);
    fix_origins();
    for (std::uint32_t i = 0; i < m_.threads_.size(); ++i) link_thread(i);
    for (std::uint32_t i = 0; i < m_.waits_.size(); ++i) link_wait(i, true);
    rebuild_edges();
    rebuild_time_indices();
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
      sql::Stmt s(db_, "SELECT type, id, thread FROM events WHERE seq > ?");
      s.bind(1, m_.last_seq_);
      while (s.step()) {
        const std::int64_t type = s.i64(0);
        const auto id = static_cast<std::uint64_t>(s.i64(1));
        thread_ids.insert(static_cast<std::uint32_t>(s.i64(2)));
        if (type >= 1 && type <= 5) ctx_ids.insert(id);
        else if (type == 6 || type == 7) wait_ids.insert(id);
        else if (type == 8 || type == 9) thread_ids.insert(static_cast<std::uint32_t>(id));
        else if (type == 12 || type == 13) tests_changed = true;
      }
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
          Context c = read_context(s);
          if (std::uint32_t i = m_.find_context(id); i != kNoIndex) {
            Context& old = m_.contexts_[i];
            resort_needed |= old.created_ns != c.created_ns;
            c.parent = old.parent;
            c.children = std::move(old.children);
            old = std::move(c);
            origin_fixups_.emplace_back(i, cancel_origin_ids_.back());
            cancel_origin_ids_.clear();
            d.changed_contexts.push_back(i);
          } else {
            add_context(std::move(c));
            d.new_contexts.push_back(static_cast<std::uint32_t>(m_.contexts_.size() - 1));
          }
        } else {
          cancel_origin_ids_.clear();
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
            Thread& old = m_.threads_[i];
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
            m_.waits_[i] = std::move(w);
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
      if (auto it = m_.observers_.find(c); it != m_.observers_.end())
        affected.insert(affected.end(), it->second.begin(), it->second.end());
      if (auto it = m_.threads_by_eff_.find(c); it != m_.threads_by_eff_.end())
        for (std::uint32_t t : it->second)
          affected.insert(affected.end(), m_.threads_[t].waits.begin(), m_.threads_[t].waits.end());
    }
    for (auto* list : {&d.new_threads, &d.changed_threads})
      for (std::uint32_t t : *list)
        affected.insert(affected.end(), m_.threads_[t].waits.begin(), m_.threads_[t].waits.end());
    d.edges_changed = update_edges(std::move(affected));
    update_time_indices(d, resort_needed);
    m_.last_seq_ = newest;
    return d;
  }

  // Recomputes the edges of `waits`; true if any edge changed.
  bool update_edges(std::vector<std::uint32_t> waits) {
    if (waits.empty()) return false;
    std::sort(waits.begin(), waits.end());
    waits.erase(std::unique(waits.begin(), waits.end()), waits.end());
    auto& edges = m_.edges_;
    auto in = [&](std::uint32_t w) { return std::binary_search(waits.begin(), waits.end(), w); };
    std::vector<WakeEdge> removed, fresh;
    for (const WakeEdge& e : edges)
      if (in(e.wait)) removed.push_back(e);
    if (!removed.empty()) std::erase_if(edges, [&](const WakeEdge& e) { return in(e.wait); });
    for (std::uint32_t w : waits) edges_for_wait(w, fresh);
    const bool same = std::equal(removed.begin(), removed.end(), fresh.begin(), fresh.end(),
                                 [](const WakeEdge& a, const WakeEdge& b) {
                                   return a.wait == b.wait && a.kind == b.kind && a.context == b.context &&
                                          a.origin == b.origin && a.cancel_ns == b.cancel_ns &&
                                          a.wake_ns == b.wake_ns;
                                 });
    const auto mid = static_cast<std::ptrdiff_t>(edges.size());
    const bool tail = edges.empty() || fresh.empty() || fresh.front().wait > edges.back().wait;
    edges.insert(edges.end(), fresh.begin(), fresh.end());
    if (!tail)
      std::inplace_merge(edges.begin(), edges.begin() + mid, edges.end(),
                         [](const WakeEdge& a, const WakeEdge& b) { return a.wait < b.wait; });
    return !same;
  }

  // Appends the new entities to the time indices (merging when one sorts
  // before the newest already there) and their times to the moments.
  void update_time_indices(const ModelDelta& d, bool resort) {
    if (resort) {
      rebuild_time_indices();
      return;
    }
    auto merge_in = [](std::vector<std::uint32_t>& index, std::vector<std::uint32_t> fresh, auto key) {
      if (fresh.empty()) return;
      std::sort(fresh.begin(), fresh.end(), [&](std::uint32_t a, std::uint32_t b) {
        return key(a) != key(b) ? key(a) < key(b) : a < b;
      });
      const auto mid = static_cast<std::ptrdiff_t>(index.size());
      const bool tail = index.empty() || key(fresh.front()) >= key(index.back());
      index.insert(index.end(), fresh.begin(), fresh.end());
      if (!tail)
        std::inplace_merge(index.begin(), index.begin() + mid, index.end(), [&](std::uint32_t a, std::uint32_t b) {
          return key(a) != key(b) ? key(a) < key(b) : a < b;
        });
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
    auto& ws = m_.threads_[thread_idx].waits;
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
  mutable std::vector<std::uint64_t> cancel_origin_ids_;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> origin_fixups_;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>>& orphans_ = m_.orphans_;
  std::vector<std::uint32_t>& unthreaded_waits_ = m_.unthreaded_waits_;
};


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

std::uint32_t TraceModel::find_context(std::uint64_t id) const noexcept {
  auto it = ctx_ids_.find(id);
  return it == ctx_ids_.end() ? kNoIndex : it->second;
}
std::uint32_t TraceModel::find_thread(std::uint32_t id) const noexcept {
  return id < thread_index_.size() ? thread_index_[id] : kNoIndex;
}
const TestCase* TraceModel::find_test(std::uint32_t id) const noexcept {
  auto it = std::lower_bound(tests_.begin(), tests_.end(), id, [](const TestCase& t, std::uint32_t v) { return t.id < v; });
  return it != tests_.end() && it->id == id ? &*it : nullptr;
}
std::uint32_t TraceModel::find_wait(std::uint64_t id) const noexcept {
  auto it = wait_ids_.find(id);
  return it == wait_ids_.end() ? kNoIndex : it->second;
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
  b += edges_.capacity() * sizeof(WakeEdge);
  for (const Site& s : sites_) b += sizeof(Site) + s.file.capacity() + s.function.capacity();
  for (const auto& st : stacks_) b += sizeof(st) + st.size() * sizeof(Frame);
  b += (ctx_by_time_.capacity() + waits_by_time_.capacity() + roots_.capacity()) * 4 +
       moments_->v.capacity() * 8;
  // Hash maps: ~ 32 bytes a node plus the bucket array.
  b += (ctx_ids_.size() + wait_ids_.size()) * 40;
  return b;
}

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
