// The probe: an event-sink tee that counts what each scope still owes (cancels
// not called, go() threads not exited), in front of the recorder, which writes
// every event as ever.  A scope with nothing outstanding at its end is clean
// at once; otherwise the probe waits on exit/cancel events up to the grace
// budget, then flushes the recorder and asks the rule engine, over the trace,
// which findings belong to the scope (contexts.test, threads.test).
#include "ctxscope/probe.hpp"

#include <fnmatch.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "ctxscope/analysis/analyzer.hpp"
#include "ctxscope/analysis/report.hpp"
#include "ctxscope/analysis/trace_model.hpp"
#include "ctxscope/detail/events.hpp"
#include "ctxscope/trace.hpp"
#include "ctxscope/trace_reader.hpp"

namespace ctxscope::trace::detail {
EventSink* recorder_sink() noexcept;  // recorder.cpp
}

namespace ctxscope::probe {
namespace {

using ctxscope::detail::now_ns;

struct Owed {
  std::int64_t cancels = 0;  // cancelable contexts whose cancel was not called yet
  std::int64_t threads = 0;  // go() threads not exited yet
  // Something happened that a rule could report although it is over: a wait
  // that lasted longer than the blind-wait grace or was ended by done, a
  // thread that lived longer than the late-exit grace.  The rules' own
  // candidate filters (prelude.sql), with the same thresholds: the engine
  // still decides, this only says whether to ask it.
  bool suspect = false;
};
const analysis::Options kRuleDefaults{};

// The tee.  Runs on the emitting thread: a short critical section, never blocks
// on another thread, never calls back into the runtime.
class ProbeSink final : public EventSink {
 public:
  // Recorder first: once a check sees what an event settled, the event is in
  // its producer's ring, so the check's flush() barrier puts it in the trace
  // (counted first, a thread's exit could be missing from the trace the rules read).
  void on_event(const Event& e) noexcept override {
    next_->on_event(e);
    count(e);
  }

  void set_next(EventSink* s) noexcept { next_ = s; }

  Owed owed(std::uint32_t scope) {
    std::lock_guard lk(mu_);
    auto it = owed_.find(scope);
    return it == owed_.end() ? Owed{} : it->second;
  }
  std::uint32_t progress() const noexcept { return progress_.load(std::memory_order_acquire); }
  // Waits until progress() moves past `seen` or `ns` pass.
  void wait_progress(std::uint32_t seen, std::int64_t ns) {
    if (ns <= 0) return;
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&progress_), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr, 0);
    waiters_.fetch_sub(1, std::memory_order_relaxed);
  }
  // What is outstanding now (any scope), for ignore_current().
  void snapshot(std::unordered_set<std::uint64_t>* ctxs, std::unordered_set<std::uint64_t>* threads) {
    std::lock_guard lk(mu_);
    for (const auto& [id, s] : ctx_scope_) ctxs->insert(id);
    for (const auto& [id, t] : threads_) threads->insert(id);
  }

 private:
  void count(const Event& e) noexcept {
    switch (e.type) {
      case EventType::ctx_create:
        if (e.kind >= static_cast<std::uint8_t>(Kind::cancel) && e.kind <= static_cast<std::uint8_t>(Kind::cause)) {
          std::lock_guard lk(mu_);
          const auto scope = static_cast<std::uint32_t>(e.code);
          if (ctx_scope_.emplace(e.id, scope).second) ++owed_[scope].cancels;
        }
        break;
      case EventType::ctx_cancel:
        // The owner's call: an explicit cancel, or an explicit call on a done context (aux bit 0).
        if (e.kind == static_cast<std::uint8_t>(CancelReason::explicit_call) || (e.aux & 1) != 0) {
          {
            std::lock_guard lk(mu_);
            auto it = ctx_scope_.find(e.id);
            if (it == ctx_scope_.end()) break;
            --owed_[it->second].cancels;
            ctx_scope_.erase(it);
          }
          progressed();
        }
        break;
      case EventType::thread_spawn:
        if (e.value != e.id) {  // go() / after_func (a runtime thread announces itself: parent == itself)
          std::lock_guard lk(mu_);
          const auto scope = static_cast<std::uint32_t>(e.code);
          if (threads_.emplace(e.id, OwnedThread{scope, static_cast<std::int64_t>(now_ns())}).second)
            ++owed_[scope].threads;
        }
        break;
      case EventType::thread_exit: {
        {
          std::lock_guard lk(mu_);
          auto it = threads_.find(e.id ? e.id : e.thread);
          if (it == threads_.end()) break;
          Owed& o = owed_[it->second.scope];
          --o.threads;
          if (static_cast<std::int64_t>(now_ns()) - it->second.spawned_ns > kRuleDefaults.late_exit_grace_ns)
            o.suspect = true;
          threads_.erase(it);
        }
        progressed();
        break;
      }
      case EventType::wait_begin: {
        std::lock_guard lk(mu_);
        waits_[e.id] = {static_cast<std::int64_t>(now_ns()), ctxscope::detail::current_scope()};
        break;
      }
      case EventType::wait_end: {
        std::lock_guard lk(mu_);
        auto it = waits_.find(e.id);
        if (it == waits_.end()) break;
        if (e.kind == static_cast<std::uint8_t>(WaitOutcome::done) ||
            static_cast<std::int64_t>(now_ns()) - it->second.begin > kRuleDefaults.blind_wait_grace_ns)
          owed_[it->second.scope].suspect = true;
        waits_.erase(it);
        break;
      }
      default:
        break;
    }
  }
  // Something a scope owed was settled: wake a check waiting for it.
  void progressed() noexcept {
    progress_.fetch_add(1, std::memory_order_seq_cst);
    if (waiters_.load(std::memory_order_seq_cst) > 0)
      syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&progress_), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
  }

  EventSink* next_ = nullptr;
  std::mutex mu_;
  std::unordered_map<std::uint64_t, std::uint32_t> ctx_scope_;  // pending cancel → scope
  struct OwnedThread {
    std::uint32_t scope;
    std::int64_t spawned_ns;
  };
  std::unordered_map<std::uint64_t, OwnedThread> threads_;  // running go() thread → scope
  struct OpenWait {
    std::int64_t begin;
    std::uint32_t scope;
  };
  std::unordered_map<std::uint64_t, OpenWait> waits_;
  std::unordered_map<std::uint32_t, Owed> owed_;
  std::atomic<std::uint32_t> progress_{0};
  std::atomic<int> waiters_{0};
};

// Never destroyed: detached threads may emit until the process ends.
ProbeSink* g_sink = nullptr;
std::mutex g_mu;  // start, scopes, the reader
std::atomic<std::uint32_t> g_next_scope{1};
std::string g_trace;  // what the recorder writes: a path or "memory:<name>"
std::optional<trace::TraceReader> g_reader;
std::unordered_set<std::uint64_t> g_baseline_ctx, g_baseline_threads;
std::atomic<std::uint64_t> g_checked{0}, g_clean_fast{0}, g_waited{0}, g_analysed{0}, g_check_ns{0};

bool glob(const std::string& pattern, const std::string& s) { return fnmatch(pattern.c_str(), s.c_str(), 0) == 0; }
bool any_glob(const std::vector<std::string>& pats, const std::string& s) {
  if (s.empty()) return false;
  for (const auto& p : pats)
    if (glob(p, s)) return true;
  return false;
}
std::string site_key(const analysis::Site& s) { return s.file + ":" + std::to_string(s.line); }

bool ignored(const Options& o, const analysis::Finding& f) {
  if (o.ignore_rules.count(f.rule)) return true;
  if (any_glob(o.ignore_threads, f.thread_name)) return true;
  std::vector<const analysis::Site*> sites{&f.site};
  if (!f.ancestry.empty()) sites.push_back(&f.ancestry.back().site);
  for (const analysis::Site* s : sites) {
    if (!s->known()) continue;
    if (any_glob(o.ignore_sites, site_key(*s))) return true;
    if (any_glob(o.ignore_functions, s->function)) return true;
  }
  for (const std::string& frame : f.stack)
    for (const auto& p : o.ignore_functions)
      if (glob("*" + p + "*", frame)) return true;
  return false;
}

// The reader of our own trace, opened once (under g_mu).
trace::TraceReader* reader(std::string* err) {
  if (g_reader) return &*g_reader;
  if (g_trace.rfind("memory:", 0) == 0) g_reader = trace::TraceReader::open_in_memory(g_trace.substr(7), err);
  else g_reader = trace::TraceReader::open(g_trace, err, false);
  return g_reader ? &*g_reader : nullptr;
}

// Who owns a finding: for a finding about a thread's wait or life, the test
// that started the thread (go() threads), else — a wait on the test's own or a
// plain thread — the test running when the wait began; for the others
// (lost-cancel) the test that created the context.
std::uint32_t owner(const analysis::TraceModel& m, const analysis::Finding& f) {
  if (f.thread != 0 && f.rule != "lost-cancel") {
    const std::uint32_t t = m.find_thread(static_cast<std::uint32_t>(f.thread));
    if (t != analysis::kNoIndex && m.threads()[t].test != 0) return m.threads()[t].test;
    if (const std::uint32_t w = m.find_wait(f.wait); w != analysis::kNoIndex) {
      const std::int64_t at = m.waits()[w].begin_ns;
      std::uint32_t best = 0;
      for (const analysis::TestCase& tc : m.tests())
        if (tc.begin_ns <= at && (tc.end_ns == analysis::kNoTime || at <= tc.end_ns) && (best == 0 || tc.kind == 0))
          best = tc.id;  // a test inside its suite wins
      if (best != 0) return best;
    }
  }
  const std::uint32_t c = m.find_context(f.context);
  return c == analysis::kNoIndex ? 0 : m.contexts()[c].test;
}

std::vector<Leak> check_now(std::uint32_t scope, const Options& o, bool whole_process);

// The check of one scope (0: everything outside finished scopes, verify_none).
std::vector<Leak> check(std::uint32_t scope, const Options& o, bool whole_process) {
  const std::uint64_t t0 = now_ns();
  std::vector<Leak> r = check_now(scope, o, whole_process);
  g_check_ns.fetch_add(now_ns() - t0, std::memory_order_relaxed);
  return r;
}

std::vector<Leak> check_now(std::uint32_t scope, const Options& o, bool whole_process) {
  std::vector<Leak> out;
  if (o.mode == Mode::off || !g_sink) return out;
  g_checked.fetch_add(1, std::memory_order_relaxed);
  auto outstanding = [&] { return g_sink->owed(scope); };
  Owed w = outstanding();
  if (w.cancels == 0 && w.threads == 0 && !w.suspect && !whole_process) {
    g_clean_fast.fetch_add(1, std::memory_order_relaxed);
    return out;
  }
  // Threads still running: wait for their exits (events), up to the budget.
  if (w.threads > 0) {
    g_waited.fetch_add(1, std::memory_order_relaxed);
    const std::int64_t deadline = static_cast<std::int64_t>(now_ns()) + o.grace.count() * 1'000'000;
    for (;;) {
      const std::uint32_t seen = g_sink->progress();
      w = outstanding();
      const std::int64_t left = deadline - static_cast<std::int64_t>(now_ns());
      if (w.threads == 0 || left <= 0) break;
      g_sink->wait_progress(seen, left);
    }
    if (w.cancels == 0 && w.threads == 0 && !w.suspect && !whole_process) return out;
  }
  // Something is outstanding: the rule engine decides, over the trace.
  g_analysed.fetch_add(1, std::memory_order_relaxed);
  trace::flush();
  std::lock_guard lk(g_mu);
  std::string err;
  trace::TraceReader* r = reader(&err);
  if (!r) {
    std::fprintf(stderr, "ctxscope-probe: cannot read the trace: %s\n", err.c_str());
    return out;
  }
  const trace::RunInfo run = r->run();
  analysis::Options ao;
  ao.end_ns = static_cast<std::int64_t>(now_ns()) - run.start_steady_ns;
  analysis::Report rep;
  analysis::TraceModel model;
  try {
    rep = analysis::analyze(r->db(), ao);
    model = analysis::TraceModel::load(r->db());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ctxscope-probe: %s: %s\n", g_trace.c_str(), e.what());
    return out;
  }
  auto mine = [&](std::uint32_t owner_scope) { return whole_process ? true : owner_scope == scope; };
  std::unordered_set<std::uint64_t> reported_threads;
  for (const analysis::Finding& f : rep.findings) {
    const std::uint32_t own = owner(model, f);
    if (!mine(own)) continue;
    if (whole_process) {
      // verify_none: what finished scopes owned was theirs to report; the baseline is ignored.
      const analysis::TestCase* t = model.find_test(own);
      if (t && t->end_ns != analysis::kNoTime) continue;
      if (g_baseline_ctx.count(f.context) || (f.thread && g_baseline_threads.count(f.thread))) continue;
    }
    if (f.thread) reported_threads.insert(f.thread);
    if (ignored(o, f)) continue;
    out.push_back({f, analysis::finding_to_text(f)});
  }
  // A go() thread of the scope still running past the budget, in no wait and
  // under a context that was never done, earns no rule of the engine (they
  // judge against the context's done): the probe says it outlived its test.
  for (std::size_t i = 0; i < model.threads().size(); ++i) {
    const analysis::Thread& t = model.threads()[i];
    if (t.runtime || t.spawn_ns == analysis::kNoTime || t.exit_ns != analysis::kNoTime) continue;
    if (!mine(t.test) || reported_threads.count(t.id)) continue;
    if (whole_process && g_baseline_threads.count(t.id)) continue;
    analysis::Finding f;
    f.rule = "late-exit";
    f.severity = analysis::Severity::warning;
    f.thread = t.id;
    f.thread_name = t.name;
    f.site = model.site(t.spawn_site);
    f.context = t.ctx_id;
    if (t.ctx != analysis::kNoIndex)
      for (std::uint32_t a : model.ancestry(t.ctx)) {
        const analysis::Context& c = model.contexts()[a];
        f.ancestry.push_back({c.id, model.name_of("kind", c.kind), model.site(c.site), -1, ""});
      }
    const analysis::TestCase* tc = model.find_test(t.test);
    const std::int64_t since = tc && tc->end_ns != analysis::kNoTime ? *ao.end_ns - tc->end_ns : *ao.end_ns - t.spawn_ns;
    f.message = "go() thread '" + t.name + "' is still running " + analysis::format_duration(since) + " after the end of " +
                (tc ? "the test that started it (" + tc->name + ")" : "the check");
    f.times.push_back({"thread started", t.spawn_ns});
    if (ignored(o, f)) continue;
    out.push_back({f, analysis::finding_to_text(f)});
  }
  return out;
}

}  // namespace

Options Options::from_environment() { return from_environment(Options{}); }

Options Options::from_environment(Options o) {
  if (const char* m = std::getenv("CTXSCOPE_PROBE"); m && *m) {
    if (!std::strcmp(m, "fail")) o.mode = Mode::fail;
    else if (!std::strcmp(m, "warn")) o.mode = Mode::warn;
    else if (!std::strcmp(m, "off")) o.mode = Mode::off;
    else std::fprintf(stderr, "ctxscope-probe: CTXSCOPE_PROBE=%s: expected fail, warn or off; using the default\n", m);
  }
  if (const char* g = std::getenv("CTXSCOPE_PROBE_GRACE_MS"); g && *g) {
    char* end = nullptr;
    const long v = std::strtol(g, &end, 10);
    if (end && *end == 0 && v >= 0 && v <= 3'600'000) o.grace = std::chrono::milliseconds(v);
    else std::fprintf(stderr, "ctxscope-probe: CTXSCOPE_PROBE_GRACE_MS=%s: expected milliseconds 0..3600000; using the default\n", g);
  }
  if (const char* l = std::getenv("CTXSCOPE_PROBE_IGNORE"); l && *l) {
    std::string list = l;
    for (std::size_t p = 0; p <= list.size();) {
      std::size_t e = list.find(',', p);
      if (e == std::string::npos) e = list.size();
      const std::string item = list.substr(p, e - p);
      p = e + 1;
      if (item.empty()) continue;
      const std::size_t colon = item.find(':');
      const std::string kind = item.substr(0, colon), val = colon == std::string::npos ? "" : item.substr(colon + 1);
      if (kind == "rule" && !val.empty()) o.ignore_rules.insert(val);
      else if (kind == "site" && !val.empty()) o.ignore_sites.push_back(val);
      else if (kind == "func" && !val.empty()) o.ignore_functions.push_back(val);
      else if (kind == "thread" && !val.empty()) o.ignore_threads.push_back(val);
      else std::fprintf(stderr, "ctxscope-probe: CTXSCOPE_PROBE_IGNORE: '%s': expected rule:, site:, func: or thread: and a value; ignored\n", item.c_str());
    }
  }
  return o;
}

bool start(std::string* err) {
  std::lock_guard lk(g_mu);
  if (g_sink) return true;
  if (!trace::active()) {
    const std::string name = "ctxscope-probe-" + std::to_string(getpid());
    if (!trace::start_in_memory(name, {}, err)) return false;
  }
  g_trace = trace::current_path();
  auto* s = new ProbeSink;
  s->set_next(trace::detail::recorder_sink());
  g_sink = s;
  install_event_sink(s);
  return true;
}

ScopedLeakCheck::ScopedLeakCheck(std::string_view name, Options opts, Kind kind) : opts_(std::move(opts)) {
  if (opts_.mode == Mode::off) return;
  std::string err;
  if (!start(&err)) {
    std::fprintf(stderr, "ctxscope-probe: cannot record, leaks are not checked: %s\n", err.c_str());
    opts_.mode = Mode::off;
    return;
  }
  id_ = g_next_scope.fetch_add(1, std::memory_order_relaxed);
  outer_ = ctxscope::detail::current_scope();
  name_ = ctxscope::detail::intern(name);
  kind_ = kind;
  ctxscope::detail::emit_test(EventType::test_begin, id_, static_cast<TestKind>(kind), name_, TestResult::passed);
  ctxscope::detail::set_process_scope(id_);
}

ScopedLeakCheck::~ScopedLeakCheck() {
  if (finished_) return;
  for (const Leak& l : finish()) std::fprintf(stderr, "%s", l.text.c_str());
}

std::vector<Leak> ScopedLeakCheck::finish(bool failed, bool skipped) {
  if (finished_ || opts_.mode == Mode::off || id_ == 0) {
    finished_ = true;
    return {};
  }
  finished_ = true;
  ctxscope::detail::set_process_scope(outer_);
  ctxscope::detail::emit_test(EventType::test_end, id_, static_cast<TestKind>(kind_), name_,
                              skipped ? TestResult::skipped : failed ? TestResult::failed : TestResult::passed);
  return check(id_, opts_, false);
}

std::vector<Leak> verify_none(const Options& opts) { return check(0, opts, true); }

void ignore_current() {
  std::lock_guard lk(g_mu);
  if (g_sink) g_sink->snapshot(&g_baseline_ctx, &g_baseline_threads);
}

Stats stats() noexcept {
  return {g_checked.load(), g_clean_fast.load(), g_waited.load(), g_analysed.load(), g_check_ns.load()};
}

}  // namespace ctxscope::probe
