#include "ctxscope/viewer/trace_document.hpp"

#include <algorithm>
#include <filesystem>
#include <exception>
#include <future>
#include <atomic>
#include <chrono>

#include "ctxscope/analysis/analyzer.hpp"
#include "ctxscope/trace_reader.hpp"
#include "ctxscope/viewer/tree_geometry.hpp"

namespace ctxscope::viewer {

using analysis::ContextState;
using analysis::kNoIndex;
using analysis::kNoTime;

const char* to_string(NodeState s) noexcept {
  switch (s) {
    case NodeState::live: return "live";
    case NodeState::cancelled_explicit: return "cancelled";
    case NodeState::cancelled_by_parent: return "cancelled by parent";
    case NodeState::deadline_exceeded: return "deadline exceeded";
    case NodeState::born_done: return "born done";
    case NodeState::released: return "released";
    case NodeState::leaked: return "leaked (lost cancel)";
  }
  return "?";
}

const char* to_string(WaitStyle s) noexcept {
  switch (s) {
    case WaitStyle::observing: return "observing its context";
    case WaitStyle::blind: return "blind (no done case)";
    case WaitStyle::ended_by_done: return "ended by done";
    case WaitStyle::stuck: return "still blocked at end";
  }
  return "?";
}

namespace {
/// Cancel-time order, ties by index: what both constructors produce.
auto by_cancel(const analysis::TraceModel& m) {
  return [&m](std::uint32_t a, std::uint32_t b) {
    const auto ta = m.contexts()[a].cancel_ns, tb = m.contexts()[b].cancel_ns;
    return ta != tb ? ta < tb : a < b;
  };
}
auto by_wake(const analysis::TraceModel& m) {
  return [&m](std::uint32_t a, std::uint32_t b) {
    const auto ta = m.edges()[a].wake_ns, tb = m.edges()[b].wake_ns;
    return ta != tb ? ta < tb : a < b;
  };
}
// The run's span widened by what an entity names (only contexts start it).
void widen(std::int64_t& begin, std::int64_t& end, const analysis::Context& c) {
  if (c.created_ns != kNoTime) {
    begin = std::min(begin, c.created_ns);
    end = std::max(end, c.created_ns);
  }
  if (c.cancel_ns != kNoTime) end = std::max(end, c.cancel_ns);
}
void widen(std::int64_t&, std::int64_t& end, const analysis::Wait& w) {
  if (w.begin_ns != kNoTime) end = std::max(end, w.begin_ns);
  if (w.end_ns != kNoTime) end = std::max(end, w.end_ns);
}
void widen(std::int64_t&, std::int64_t& end, const analysis::Thread& t) {
  if (t.exit_ns != kNoTime) end = std::max(end, t.exit_ns);
}
// The entry of a sparse per-entity map, or an empty list.
const std::vector<std::uint32_t>& entry(const std::unordered_map<std::uint32_t, std::vector<std::uint32_t>>& map,
                                        std::uint32_t key) {
  static const std::vector<std::uint32_t> none;
  auto it = map.find(key);
  return it == map.end() ? none : it->second;
}
bool is_origin_cause(const analysis::Context& c) {
  // An origin is where a cancel began (explicit or deadline); a cancel that
  // reached no one else is an origin too (the marker says "cancelled here").
  return c.cancel_ns != kNoTime && (c.cancel_reason == 0 || c.cancel_reason == 2);
}
}  // namespace

NodeState TraceDocument::base_state(std::uint32_t i) const noexcept {
  switch (model_.context_state(i, end_ns_)) {
    case ContextState::cancelled_explicit: return NodeState::cancelled_explicit;
    case ContextState::cancelled_by_parent: return NodeState::cancelled_by_parent;
    case ContextState::deadline_exceeded: return NodeState::deadline_exceeded;
    case ContextState::born_done: return NodeState::born_done;
    case ContextState::released: return NodeState::released;
    default: return NodeState::live;
  }
}

WaitStyle TraceDocument::base_style(std::uint32_t i) const noexcept {
  const auto& w = model_.waits()[i];
  if (w.end_ns == kNoTime) return WaitStyle::stuck;
  if (w.outcome == 2) return WaitStyle::ended_by_done;
  if (w.observes_context()) return WaitStyle::observing;
  return WaitStyle::blind;
}

TraceDocument::TraceDocument(std::string path, analysis::TraceModel model, analysis::Report report,
                             std::vector<std::string> warnings)
    : path_(std::move(path)), model_(std::move(model)), report_(std::move(report)), warnings_(std::move(warnings)) {
  const auto& m = model_;
  for (const auto& w : report_.warnings) warnings_.push_back(w);
  end_ns_ = m.run().end_ns;
  begin_ns_ = 0;
  for (const auto& c : m.contexts()) widen(begin_ns_, end_ns_, c);
  for (const auto& w : m.waits()) widen(begin_ns_, end_ns_, w);
  for (const auto& t : m.threads()) widen(begin_ns_, end_ns_, t);

  const auto nc = m.contexts().size(), nw = m.waits().size();
  node_state_.resize(nc);
  origin_.assign(nc, 0);
  for (std::uint32_t i = 0; i < nc; ++i) {
    node_state_[i] = base_state(i);
    const auto& c = m.contexts()[i];
    if (c.cancel_origin != kNoIndex && c.cancel_origin < nc) origin_[c.cancel_origin] = 1;
    if (is_origin_cause(c)) origin_[i] = 1;
  }
  wait_style_.resize(nw);
  wait_missed_.assign(nw, 0);
  for (std::uint32_t i = 0; i < nw; ++i) wait_style_[i] = base_style(i);
  derive_findings();
  derive_lanes();

  // What the views index by, built here (off the GUI thread) rather than at
  // every set_document: the lanes' edges by wake and origins by cancel, the
  // rows of the Contexts tab, the tree's default layout.
  woke_by_wake_ = index_edges_from(0);
  std::sort(woke_by_wake_.begin(), woke_by_wake_.end(), by_wake(m));
  for (std::uint32_t c = 0; c < nc; ++c)
    if (m.contexts()[c].cancel_ns != kNoTime) cancelled_by_time_.push_back(c);
  std::sort(cancelled_by_time_.begin(), cancelled_by_time_.end(), by_cancel(m));
  for (auto c : cancelled_by_time_)
    if (origin_[c]) origins_of_thread_[m.find_thread(m.contexts()[c].cancel_thread)].push_back(c);
  row_in_parent_.assign(nc, 0);
  const auto roots = m.roots();
  for (std::size_t r = 0; r < roots.size(); ++r) row_in_parent_[roots[r]] = static_cast<int>(r);
  for (const auto& c : m.contexts())
    for (std::size_t r = 0; r < c.children.size(); ++r) row_in_parent_[c.children[r]] = static_cast<int>(r);
  derive_tree();
}

TraceDocument::TraceDocument(const TraceDocument& prev, analysis::TraceModel model, const analysis::ModelDelta& delta,
                             analysis::Report report, std::vector<std::string> warnings, bool lay_out_tree)
    : path_(prev.path_), model_(std::move(model)), report_(std::move(report)), warnings_(std::move(warnings)) {
  const auto& m = model_;
  const auto& pm = prev.model_;
  for (const auto& w : report_.warnings) warnings_.push_back(w);
  const auto nc = m.contexts().size(), nw = m.waits().size();
  const auto pnc = pm.contexts().size();
  // What an entity the delta does not name says is what it said before (its
  // row did not change, and its times were all within the previous end).
  std::vector<std::uint32_t> ctxs = delta.new_contexts, waits = delta.new_waits;
  ctxs.insert(ctxs.end(), delta.changed_contexts.begin(), delta.changed_contexts.end());
  waits.insert(waits.end(), delta.changed_waits.begin(), delta.changed_waits.end());
  end_ns_ = std::max(prev.end_ns_, m.run().end_ns);
  begin_ns_ = prev.begin_ns_;
  for (auto i : ctxs) widen(begin_ns_, end_ns_, m.contexts()[i]);
  for (auto i : waits) widen(begin_ns_, end_ns_, m.waits()[i]);
  for (auto* list : {&delta.new_threads, &delta.changed_threads})
    for (auto t : *list) widen(begin_ns_, end_ns_, m.threads()[t]);

  // Contexts: states of the named ones; the leak overlay is redone below.
  node_state_ = prev.node_state_;
  node_state_.resize(nc, NodeState::live);
  for (auto i : ctxs) node_state_[i] = base_state(i);
  for (const auto& [c, fs] : prev.ctx_findings_)
    if (c < nc) node_state_[c] = base_state(c);
  origin_ = prev.origin_;
  origin_.resize(nc, 0);
  std::vector<std::uint32_t> flagged;  // contexts that became origins
  auto flag = [&](std::uint32_t c) {
    if (c < nc && !origin_[c]) origin_[c] = 1, flagged.push_back(c);
  };
  for (auto i : ctxs) {
    const auto& c = m.contexts()[i];
    if (c.cancel_origin != kNoIndex) flag(c.cancel_origin);
    if (is_origin_cause(c)) flag(i);
  }

  // Waits: styles of the named ones; "missed" of every wait with an edge in
  // the rewritten tail is cleared here and set again with the tail's edges below.
  wait_style_ = prev.wait_style_;
  wait_style_.resize(nw, WaitStyle::observing);
  for (auto i : waits) wait_style_[i] = base_style(i);
  wait_missed_ = prev.wait_missed_;
  wait_missed_.resize(nw, 0);
  const std::size_t from = delta.edges_changed ? std::min(delta.edges_changed_from, pm.edges().size()) : pm.edges().size();
  for (std::size_t e = from; e < pm.edges().size(); ++e)
    if (pm.edges()[e].wait < nw) wait_missed_[pm.edges()[e].wait] = 0;

  derive_findings();
  if (!delta.new_threads.empty() || !delta.changed_threads.empty() || !delta.new_waits.empty()) {
    derive_lanes();
  } else {
    lanes_ = prev.lanes_;
    lane_of_ = prev.lane_of_;
  }

  // Edge indexes: entries before the rewritten tail stay, the tail's are added.
  for (auto e : prev.woke_by_wake_)
    if (e < from) {
      woke_by_wake_.push_back(e);
      max_wake_lag_ = std::max(max_wake_lag_, m.edges()[e].wake_ns - m.edges()[e].cancel_ns);
    }
  for (auto e : prev.missed_edges_)
    if (e < from) missed_edges_.push_back(e);
  std::vector<std::uint32_t> woke_new = index_edges_from(from);
  auto merge_into = [](std::vector<std::uint32_t>& index, std::vector<std::uint32_t> fresh, auto less) {
    std::sort(fresh.begin(), fresh.end(), less);
    const auto mid = static_cast<std::ptrdiff_t>(index.size());
    index.insert(index.end(), fresh.begin(), fresh.end());
    std::inplace_merge(index.begin(), index.begin() + mid, index.end(), less);
  };
  merge_into(woke_by_wake_, std::move(woke_new), by_wake(m));

  // Cancel-time indexes: the contexts that became done (or origins) since.
  auto was_done = [&](std::uint32_t c) { return c < pnc && pm.contexts()[c].cancel_ns != kNoTime; };
  std::vector<std::uint32_t> done_new, origins_new;  // (origins: by thread below)
  for (auto i : ctxs)
    if (m.contexts()[i].cancel_ns != kNoTime && !was_done(i)) done_new.push_back(i);
  for (auto* list : {&ctxs, &flagged})
    for (auto i : *list)
      if (origin_[i] && m.contexts()[i].cancel_ns != kNoTime && !(was_done(i) && prev.origin_[i] != 0))
        origins_new.push_back(i);
  std::sort(origins_new.begin(), origins_new.end());
  origins_new.erase(std::unique(origins_new.begin(), origins_new.end()), origins_new.end());
  std::sort(done_new.begin(), done_new.end());
  done_new.erase(std::unique(done_new.begin(), done_new.end()), done_new.end());
  cancelled_by_time_ = prev.cancelled_by_time_;
  merge_into(cancelled_by_time_, std::move(done_new), by_cancel(m));
  origins_of_thread_ = prev.origins_of_thread_;
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> per_thread;
  for (auto c : origins_new) per_thread[m.find_thread(m.contexts()[c].cancel_thread)].push_back(c);
  for (auto& [t, fresh] : per_thread) merge_into(origins_of_thread_[t], std::move(fresh), by_cancel(m));

  // Rows under the parent: a new child is nearly always its parent's last.
  row_in_parent_ = prev.row_in_parent_;
  row_in_parent_.resize(nc, 0);
  auto renumber = [&](std::span<const std::uint32_t> kids, std::size_t from = 0) {
    for (std::size_t r = from; r < kids.size(); ++r) row_in_parent_[kids[r]] = static_cast<int>(r);
  };
  std::vector<std::uint32_t> parents;
  bool roots_grew = false;
  for (auto i : delta.new_contexts) {
    renumber(m.contexts()[i].children);  // children that came before it (a damaged file)
    const auto p = m.contexts()[i].parent;
    if (p == kNoIndex) roots_grew = true;
    else if (p < pnc) parents.push_back(p);
  }
  std::sort(parents.begin(), parents.end());
  parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
  auto is_new = [&](std::uint32_t c) { return c >= pnc; };
  auto renumber_tail = [&](std::span<const std::uint32_t> kids) {
    // The new ones at the end: number them; any earlier: number all.
    std::size_t k = kids.size();
    while (k > 0 && is_new(kids[k - 1])) --k;
    if (std::any_of(kids.begin(), kids.begin() + static_cast<std::ptrdiff_t>(k), is_new)) k = 0;
    renumber(kids, k);
  };
  for (auto p : parents) renumber_tail(m.contexts()[p].children);
  if (roots_grew || m.roots().size() != pm.roots().size()) {
    const bool prefix = pm.roots().size() <= m.roots().size() &&
                        std::equal(pm.roots().begin(), pm.roots().end(), m.roots().begin());
    if (prefix) renumber_tail(m.roots());
    else renumber(m.roots());  // a root gained its parent (a damaged file): all move up
  }
  if (lay_out_tree) derive_tree();
}

void TraceDocument::set_preview(double prefix) noexcept {
  preview_ = prefix;
  // Up to its front: the last creation, wait or thread start its rows hold.
  // Their later facts (a cancel at the run's end) lie past it, so the views
  // show the state at the front, as playback does at that time.
  std::int64_t front = 0;
  for (const auto& c : model_.contexts())
    if (c.created_ns != kNoTime) front = std::max(front, c.created_ns);
  for (const auto& w : model_.waits())
    if (w.begin_ns != kNoTime) front = std::max(front, w.begin_ns);
  for (const auto& t : model_.threads())
    for (auto v : {t.spawn_ns, t.first_ns})
      if (v != kNoTime) front = std::max(front, v);
  end_ns_ = std::max(begin_ns_, front);
}

void TraceDocument::set_default_tree(std::unique_ptr<TreeGeometry> tree) {
  std::lock_guard lock(take_mutex_);
  default_tree_ = std::move(tree);
}

void TraceDocument::derive_findings() {
  const auto& m = model_;
  const auto nf = report_.findings.size();
  f_ctx_.assign(nf, kNoIndex);
  f_thread_.assign(nf, kNoIndex);
  f_wait_.assign(nf, kNoIndex);
  for (std::uint32_t f = 0; f < nf; ++f) {
    const auto& fi = report_.findings[f];
    if (fi.context) f_ctx_[f] = m.find_context(fi.context);
    if (fi.wait) f_wait_[f] = m.find_wait(fi.wait);
    if (fi.thread) f_thread_[f] = m.find_thread(static_cast<std::uint32_t>(fi.thread));
    if (f_wait_[f] != kNoIndex && f_thread_[f] == kNoIndex)
      f_thread_[f] = m.find_thread(m.waits()[f_wait_[f]].thread);
    if (f_ctx_[f] != kNoIndex) {
      ctx_findings_[f_ctx_[f]].push_back(f);
      if (fi.rule == "lost-cancel") node_state_[f_ctx_[f]] = NodeState::leaked;
    }
    if (f_wait_[f] != kNoIndex) wait_findings_[f_wait_[f]].push_back(f);
  }
}

void TraceDocument::derive_lanes() {
  // Lanes: user threads by first activity, then ctxscope's own threads.
  const auto& m = model_;
  const auto nt = m.threads().size();
  std::vector<std::uint32_t> order(nt);
  for (std::uint32_t i = 0; i < nt; ++i) order[i] = i;
  auto first = [&](std::uint32_t i) {
    const auto& t = m.threads()[i];
    std::int64_t v = t.spawn_ns != kNoTime ? t.spawn_ns : t.first_ns;
    if (v == kNoTime && !t.waits.empty()) v = m.waits()[t.waits.front()].begin_ns;
    return v == kNoTime ? std::int64_t{0} : v;
  };
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const bool ra = m.threads()[a].runtime, rb = m.threads()[b].runtime;
    if (ra != rb) return rb;
    const auto fa = first(a), fb = first(b);
    if (fa != fb) return fa < fb;
    return m.threads()[a].id < m.threads()[b].id;
  });
  lanes_ = std::move(order);
  lane_of_.assign(nt, kNoIndex);
  for (std::uint32_t l = 0; l < lanes_.size(); ++l) lane_of_[lanes_[l]] = l;
}

// Edges [from, end): missed ones marked on their wait and listed, the
// largest wake lag taken; the woke ones (with both times) returned, by index.
std::vector<std::uint32_t> TraceDocument::index_edges_from(std::size_t from) {
  const auto& m = model_;
  std::vector<std::uint32_t> woke;
  for (std::size_t e = from; e < m.edges().size(); ++e) {
    const auto& ed = m.edges()[e];
    const auto idx = static_cast<std::uint32_t>(e);
    if (ed.kind == analysis::WakeEdge::Kind::woke && ed.wake_ns != kNoTime && ed.cancel_ns != kNoTime) {
      woke.push_back(idx);
      max_wake_lag_ = std::max(max_wake_lag_, ed.wake_ns - ed.cancel_ns);
    } else if (ed.kind == analysis::WakeEdge::Kind::missed) {
      missed_edges_.push_back(idx);
      if (ed.wait < wait_missed_.size()) wait_missed_[ed.wait] = 1;
    }
  }
  return woke;
}

void TraceDocument::derive_tree() {
  default_tree_ = std::make_unique<TreeGeometry>(tree_geometry(*this, nullptr, {}));
}

TraceDocument::~TraceDocument() = default;

std::unique_ptr<TreeGeometry> TraceDocument::take_default_tree() const {
  std::lock_guard lock(take_mutex_);
  return std::move(default_tree_);
}

const std::vector<std::uint32_t>& TraceDocument::findings_of_context(std::uint32_t c) const {
  return entry(ctx_findings_, c);
}
const std::vector<std::uint32_t>& TraceDocument::origins_of_thread(std::uint32_t t) const {
  return entry(origins_of_thread_, t);
}
const std::vector<std::uint32_t>& TraceDocument::findings_of_wait(std::uint32_t w) const {
  return entry(wait_findings_, w);
}

bool TraceDocument::context_exists_at(std::uint32_t c, std::int64_t t) const noexcept {
  return model_.context_state(c, t) != ContextState::not_created;
}

NodeState TraceDocument::node_state_at(std::uint32_t c, std::int64_t t) const noexcept {
  if (t >= end_ns_) return node_state_[c];
  const auto st = model_.context_state(c, t);
  // A leak stays a leak once its last CancelFunc is gone, also when its last
  // handle is destroyed afterwards (released): what the end shows too.
  if (node_state_[c] == NodeState::leaked && (st == ContextState::live || st == ContextState::released)) {
    const auto dropped = model_.contexts()[c].dropped_ns;
    if (dropped != kNoTime && dropped <= t) return NodeState::leaked;
  }
  switch (st) {
    case ContextState::cancelled_explicit: return NodeState::cancelled_explicit;
    case ContextState::cancelled_by_parent: return NodeState::cancelled_by_parent;
    case ContextState::deadline_exceeded: return NodeState::deadline_exceeded;
    case ContextState::born_done: return NodeState::born_done;
    case ContextState::released: return NodeState::released;
    default: break;
  }
  return NodeState::live;
}

bool TraceDocument::wait_exists_at(std::uint32_t w, std::int64_t t) const noexcept {
  return model_.wait_state(w, t) != analysis::WaitState::not_begun;
}

bool TraceDocument::wait_blocked_at(std::uint32_t w, std::int64_t t) const noexcept {
  return model_.wait_state(w, t) == analysis::WaitState::blocked;
}

WaitStyle TraceDocument::wait_style_at(std::uint32_t w, std::int64_t t) const noexcept {
  if (t >= end_ns_) return wait_style_[w];
  switch (model_.wait_state(w, t)) {
    case analysis::WaitState::ended_done: return WaitStyle::ended_by_done;
    case analysis::WaitState::ended_value:
    case analysis::WaitState::blocked:
    case analysis::WaitState::not_begun: break;
  }
  return model_.waits()[w].observes_context() ? WaitStyle::observing : WaitStyle::blind;
}

std::uint32_t TraceDocument::lane_of_thread(std::uint32_t thread) const noexcept {
  return thread < lane_of_.size() ? lane_of_[thread] : kNoIndex;
}

std::string TraceDocument::short_site(std::uint32_t site) const {
  const auto& s = model_.site(site);
  if (!s.known()) return {};
  return std::filesystem::path(s.file).filename().string() + ":" + std::to_string(s.line);
}

std::string TraceDocument::context_title(std::uint32_t c) const {
  const auto& x = model_.contexts()[c];
  std::string s = "ctx#" + std::to_string(x.id) + " " + model_.name_of("kind", x.kind);
  if (!x.label.empty()) s += " '" + x.label + "'";
  return s;
}

std::string TraceDocument::thread_title(std::uint32_t t) const {
  const auto& x = model_.threads()[t];
  std::string name = x.name;
  if (name.empty()) name = x.ctx_id == 0 && x.parent_thread == 0 && !x.runtime ? "main" : "thread";
  return name + " (#" + std::to_string(x.id) + ")";
}

std::string TraceDocument::wait_title(std::uint32_t w) const {
  const auto& x = model_.waits()[w];
  std::string s = model_.name_of("wait_object", x.object);
  if (!x.label.empty()) s += " '" + x.label + "'";
  return s;
}

DocumentPtr load_document(const std::string& path, std::string* err, const std::function<bool(double)>& progress,
                          bool* cancelled, const std::function<void(DocumentPtr)>& preview,
                          std::uint64_t preview_min_events) {
  if (cancelled) *cancelled = false;
  // No whole-file quick_check (3-4 scans of events): the model's and the
  // rules' own queries meet any corruption in what they read (caught below).
  auto reader = trace::TraceReader::open(path, err, /*quick_check=*/false);
  if (!reader) return nullptr;
  auto was_cancelled = [&]() -> DocumentPtr {
    if (cancelled) *cancelled = true;
    if (err) *err = path + ": loading cancelled";
    return nullptr;
  };
  try {
    // A finished trace does not change: the rules run on a second connection
    // while the model loads (same data; about a sixth of the open time at 1M
    // events).  A trace still being written, or one read from a private copy of
    // its WAL, is read on the one connection, in sequence: one snapshot.
    //
    // A cancelled (or failed) load stops the rules too (Options::cancel
    // interrupts a rule inside its query), so it returns at once instead of
    // waiting for every rule to finish.
    auto stop_rules = std::make_shared<std::atomic<bool>>(false);
    analysis::Options rule_opts;
    rule_opts.cancel = stop_rules.get();
    std::future<analysis::Report> rules;
    if (reader->run().complete() && !reader->recovered_from_wal()) {
      rules = std::async(std::launch::async, [path, rule_opts, stop_rules] {
        std::string e;
        auto second = trace::TraceReader::open(path, &e, /*quick_check=*/false);
        if (!second) throw analysis::AnalysisError(e);
        return analysis::analyze(second->db(), rule_opts);
      });
    }
    // Declared after `rules`, so it runs first when an exception leaves this
    // scope (the future's destructor then waits only for an interrupted rule).
    struct StopOnUnwind {
      std::atomic<bool>& stop;
      int exceptions = std::uncaught_exceptions();
      ~StopOnUnwind() {
        if (std::uncaught_exceptions() > exceptions) stop.store(true);
      }
    } stop_on_unwind{*stop_rules};
    // A large finished run: its first rows first, for the window to paint
    // while the whole loads (a quarter of the smallest such run: at 1M events
    // a twentieth, a few tens of ms beside the rules).  Cancellable like the load.
    const auto events = static_cast<std::uint64_t>(std::max<std::int64_t>(0, reader->run().events_recorded));
    if (preview && rules.valid() && events >= std::max<std::uint64_t>(preview_min_events, 1)) {
      analysis::LoadOptions po;
      po.prefix = static_cast<double>(std::max<std::uint64_t>(preview_min_events / 4, 1)) / static_cast<double>(events);
      if (progress) po.progress = [&](double) { return progress(0); };
      auto first = std::make_shared<TraceDocument>(path, analysis::TraceModel::load(reader->db(), po), analysis::Report{},
                                                   reader->warnings());
      first->set_preview(po.prefix);
      preview(std::move(first));
    }
    analysis::LoadOptions lo;
    if (progress) lo.progress = [&](double f) { return progress(0.8 * f); };
    auto model = analysis::TraceModel::load(reader->db(), lo);
    if (progress && !progress(0.8)) throw analysis::LoadCancelled();
    // Still cancellable while the rules finish.
    while (rules.valid() && rules.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready)
      if (progress && !progress(0.8)) throw analysis::LoadCancelled();
    analysis::Report rep = rules.valid() ? rules.get()
                                         : analysis::analyze(reader->db(), rule_opts,
                                                             [&](std::string_view, int step, int steps) {
                                                               if (progress && steps > 0 &&
                                                                   !progress(0.8 + 0.2 * step / steps))
                                                                 stop_rules->store(true);
                                                             });
    rep.run.trace_path = path;
    auto warnings = reader->warnings();
    return std::make_shared<const TraceDocument>(path, std::move(model), std::move(rep), std::move(warnings));
  } catch (const analysis::LoadCancelled&) {
    return was_cancelled();
  } catch (const analysis::AnalysisCancelled&) {
    return was_cancelled();
  } catch (const analysis::RuleError& e) {
    if (err) *err = path + ": " + e.what();
  } catch (const std::exception& e) {
    if (err) *err = path + ": file is truncated or corrupt (" + e.what() + ")";
  }
  return nullptr;
}

}  // namespace ctxscope::viewer
