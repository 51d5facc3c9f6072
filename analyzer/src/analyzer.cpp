// The rule engine: runs the compiled-in SQL of each rule and turns its rows
// into Findings.  The SQL decides WHICH rows are findings; this file only
// names, locates and explains them.
#include "ctxscope/analysis/analyzer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "enum_names.hpp"
#include "sql.hpp"

namespace ctxscope::analysis {
namespace {

// SQLite access: the analysis library's one statement wrapper (sql.hpp); its
// errors become AnalysisError at analyze()'s boundary.
using sql::Stmt;


// Runs every statement of `sql`, binding the grace-period parameters wherever
// a statement names them (sqlite3_exec cannot bind).
void exec_bound(sqlite3* db, std::string_view sql, const Options& o) {
  sql::exec_each(db, sql, [&](sql::Stmt& st) {
    st.bind_named(":blind_wait_grace_ns", o.blind_wait_grace_ns);
    st.bind_named(":late_exit_grace_ns", o.late_exit_grace_ns);
    if (o.end_ns) st.bind_named(":end_ns", *o.end_ns);  // unbound: NULL, the run's own end
  });
}

using rule_catalogue::Rule;

// The statement of a rule must return exactly the columns the rule declares
// (its catalogue entry): checked once, after prepare and before any row, so a
// renamed or missing column is an error naming rule and column rather than a
// finding built from a default value.
void check_columns(const Stmt& s, const Rule& rule) {
  std::vector<std::string> seen;
  for (int c = 0; c < s.columns(); ++c) {
    const std::string n = s.name(c);
    if (!rule.declares_column(n))
      throw RuleError("rule " + std::string(rule.id) + ": result column '" + n +
                      "' is not declared in the rule's `columns:` header");
    if (std::find(seen.begin(), seen.end(), n) != seen.end())
      throw RuleError("rule " + std::string(rule.id) + ": result column '" + n + "' is returned twice");
    seen.push_back(n);
  }
  for (std::string_view d : rule.columns)
    if (std::find(seen.begin(), seen.end(), d) == seen.end())
      throw RuleError("rule " + std::string(rule.id) + ": declared result column '" + std::string(d) +
                      "' is missing from the query's result");
}

// A result row of a rule, by column name.  Every column of the row is a
// declared one (check_columns); asking for any other name is a defect of the
// finding builder and throws, so no value ever silently defaults.
struct Row {
  std::string_view rule;
  std::unordered_map<std::string, std::optional<std::int64_t>> ints;  // every column; nullopt: NULL or text
  std::unordered_map<std::string, std::string> texts;
  std::optional<std::int64_t> opt(const std::string& k) const {
    auto it = ints.find(k);
    if (it == ints.end())
      throw RuleError("rule " + std::string(rule) + ": the finding builder reads column '" + k +
                      "', which the rule does not return");
    return it->second;
  }
  /// The integer value; a NULL reads as `if_null`.
  std::int64_t get(const std::string& k, std::int64_t if_null = 0) const { return opt(k).value_or(if_null); }
  std::string str(const std::string& k) const {
    (void)opt(k);  // the name must exist
    auto it = texts.find(k);
    return it == texts.end() ? std::string() : it->second;
  }
};

Row read_row(const Stmt& s, std::string_view rule) {
  Row r;
  r.rule = rule;
  for (int c = 0; c < s.columns(); ++c) {
    const std::string n = s.name(c);
    // Read each value once, in its own type: converting a value in place
    // (int64 then text) is not safe for every result column.
    switch (s.type(c)) {
      case SQLITE_NULL: r.ints[n] = std::nullopt; break;
      case SQLITE_INTEGER:
      case SQLITE_FLOAT: r.ints[n] = s.i64(c); break;
      default: r.texts[n] = s.text(c); r.ints[n] = std::nullopt; break;
    }
  }
  return r;
}

// ---- the trace's entities, looked up on demand and cached -----------------

struct CtxInfo {
  std::uint64_t id = 0;
  std::optional<std::int64_t> parent;
  std::string kind;
  std::optional<std::int64_t> site, created_ns, cancel_ns, cancel_origin, cancel_site, cancel_thread;
  std::string cancel_reason;
};

class Entities {
 public:
  explicit Entities(sqlite3* db)
      : site_q_(db, "SELECT file, line, col, function FROM sites WHERE id = ?"),
        thread_q_(db, "SELECT name FROM threads WHERE id = ?"),
        ctx_q_(db,
               "SELECT parent, kind, site, created_ns, cancel_ns, cancel_reason, cancel_origin, cancel_site, "
               "cancel_thread FROM contexts WHERE id = ?"),
        stack_q_(db,
                 "SELECT f.function, f.file, f.line, f.address FROM stack_frames sf JOIN frames f ON f.id = "
                 "sf.frame_id WHERE sf.stack_id = ? ORDER BY sf.depth"),
        enums_(detail::read_enum_table(db)) {}

  /// The file's name of `code` in enumeration `type` (enum_names.hpp).
  std::string name(std::string_view type, std::optional<std::int64_t> code) const {
    return detail::enum_name(enums_, type, code);
  }

  Site site(std::optional<std::int64_t> id) {
    if (!id) return {};
    if (auto it = sites_.find(*id); it != sites_.end()) return it->second;
    Site s;
    site_q_.bind(1, *id);
    if (site_q_.step()) {
      s.file = site_q_.text(0);
      s.line = static_cast<int>(site_q_.i64(1));
      s.column = static_cast<int>(site_q_.i64(2));
      s.function = site_q_.text(3);
    }
    site_q_.reset();
    return sites_[*id] = s;
  }

  std::string thread_name(std::int64_t id) {
    if (auto it = threads_.find(id); it != threads_.end()) return it->second;
    std::string n;
    thread_q_.bind(1, id);
    if (thread_q_.step()) n = thread_q_.text(0);
    thread_q_.reset();
    if (n.empty()) n = id == 1 ? "main" : "thread#" + std::to_string(id);
    return threads_[id] = n;
  }

  const CtxInfo& ctx(std::int64_t id) {
    if (auto it = ctxs_.find(id); it != ctxs_.end()) return it->second;
    CtxInfo c;
    c.id = static_cast<std::uint64_t>(id);
    ctx_q_.bind(1, id);
    if (ctx_q_.step()) {
      c.parent = ctx_q_.opt(0);
      c.kind = name("kind", ctx_q_.opt(1));
      c.site = ctx_q_.opt(2);
      c.created_ns = ctx_q_.opt(3);
      c.cancel_ns = ctx_q_.opt(4);
      c.cancel_reason = name("cancel_reason", ctx_q_.opt(5));
      c.cancel_origin = ctx_q_.opt(6);
      c.cancel_site = ctx_q_.opt(7);
      c.cancel_thread = ctx_q_.opt(8);
    } else {
      c.kind = id == 1 ? "background" : id == 2 ? "todo" : "unknown";
    }
    ctx_q_.reset();
    return ctxs_[id] = c;
  }

  /// root → … → ctx: the root and the kAncestryKept − 1 nearest (`elided`
  /// left out between them).  O(kAncestryKept) a finding: the depth and the
  /// root of each chain are found once (depth()).  A cycle (a damaged file)
  /// stops the walk where it closes.
  std::vector<AncestryEntry> ancestry(std::int64_t id, std::uint64_t& elided) {
    std::vector<AncestryEntry> out;
    std::unordered_set<std::int64_t> seen;
    elided = 0;
    std::optional<std::int64_t> cur = id;
    while (cur && out.size() + 1 < kAncestryKept && seen.insert(*cur).second) {
      out.push_back(entry(ctx(*cur)));
      cur = ctx(*cur).parent;
    }
    if (cur && !seen.count(*cur)) {
      // More above: the root, and how many lie between it and what is kept.
      const Chain& ch = chain(id);
      const auto between = static_cast<std::int64_t>(ch.depth) + 1 - static_cast<std::int64_t>(out.size()) - 1;
      if (!seen.count(ch.root)) {
        out.push_back(entry(ctx(ch.root)));
        elided = static_cast<std::uint64_t>(std::max<std::int64_t>(between, 0));
      }
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  AncestryEntry entry(const CtxInfo& c) {
    AncestryEntry a;
    a.context = c.id;
    a.kind = c.kind;
    a.site = site(c.site);
    a.done_ns = c.cancel_ns.value_or(-1);
    a.done_reason = c.cancel_ns ? c.cancel_reason : "";
    return a;
  }

  /// A context's depth below its chain's root (0: a root) and that root,
  /// memoized: every context is walked over once however many findings its
  /// chain has.  A cycle is cut where the walk meets it (the context there
  /// counts as a root).
  struct Chain {
    std::uint64_t depth = 0;
    std::int64_t root = 0;
  };
  const Chain& chain(std::int64_t id) {
    if (auto it = chains_.find(id); it != chains_.end()) return it->second;
    std::vector<std::int64_t> path;
    std::unordered_set<std::int64_t> on_path;
    Chain above;  // of the first known context above the path, if any
    bool known = false;
    for (std::optional<std::int64_t> cur = id; cur;) {
      if (auto it = chains_.find(*cur); it != chains_.end()) {
        above = it->second;
        known = true;
        break;
      }
      if (!on_path.insert(*cur).second) break;  // a cycle: cut here
      path.push_back(*cur);
      cur = ctx(*cur).parent;
    }
    Chain c = known ? Chain{above.depth + 1, above.root} : Chain{0, path.back()};
    for (auto it = path.rbegin(); it != path.rend(); ++it, ++c.depth) chains_[*it] = c;
    return chains_[id];
  }

  /// Frames of stack `id` as text ("function at file:line") and as sites.
  void stack(std::optional<std::int64_t> id, std::vector<std::string>& text, std::vector<Site>& sites) {
    text.clear();
    sites.clear();
    if (!id) return;
    stack_q_.bind(1, *id);
    while (stack_q_.step()) {
      Site st;
      st.function = stack_q_.null(0) ? "" : stack_q_.text(0);
      std::string fr = st.function;
      if (fr.empty()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(stack_q_.i64(3)));
        fr = buf;
      }
      if (!stack_q_.null(1) && !stack_q_.text(1).empty()) {
        st.file = stack_q_.text(1);
        st.line = stack_q_.null(2) ? 0 : static_cast<int>(stack_q_.i64(2));
        fr += " at " + st.file + ":" + std::to_string(st.line);
      }
      text.push_back(std::move(fr));
      sites.push_back(std::move(st));
    }
    stack_q_.reset();
  }

 private:
  Stmt site_q_, thread_q_, ctx_q_, stack_q_;
  detail::EnumTable enums_;
  std::unordered_map<std::int64_t, Site> sites_;
  std::unordered_map<std::int64_t, std::string> threads_;
  std::unordered_map<std::int64_t, CtxInfo> ctxs_;
  std::unordered_map<std::int64_t, Chain> chains_;
};

std::string base(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

std::string at(const Site& s) {
  if (!s.known()) return "";
  return " at " + base(s.file) + ":" + std::to_string(s.line);
}

std::string ctx_ref(const CtxInfo& c) { return "ctx#" + std::to_string(c.id) + " (" + c.kind + ")"; }

// How `c` became done, as a verb phrase: "was cancelled at main.cpp:40",
// "was cancelled by parent ctx#3 at handler.cpp:40", "hit its deadline", ...
std::string how_done(Entities& E, const CtxInfo& c) {
  const std::string& r = c.cancel_reason;
  if (r == "explicit") return "was cancelled" + at(E.site(c.cancel_site));
  if (r == "deadline") return "hit its deadline";
  if (r == "born_done") return "was created from an already-done parent";
  if (r == "parent" && c.cancel_origin) {
    const CtxInfo& o = E.ctx(*c.cancel_origin);
    const bool direct = c.parent && *c.parent == *c.cancel_origin;
    std::string who = std::string(direct ? "parent" : "ancestor") + " ctx#" + std::to_string(o.id);
    if (o.cancel_reason == "deadline") return "was cancelled when " + who + " hit its deadline";
    return "was cancelled by " + who + at(E.site(o.cancel_site));
  }
  if (r == "parent") return "was cancelled by its parent";
  return "became done";
}

std::string wait_what(const Entities& E, const Row& r) {
  std::string w = E.name("wait_object", r.opt("object"));
  if (w.empty()) w = "wait";
  const std::string label = r.str("label");
  if (!label.empty()) w += " '" + label + "'";
  else if (r.opt("object_id") && w != "select" && w != "sleep" && w != "done")
    w += " (object #" + std::to_string(r.get("object_id")) + ")";
  return w;
}

struct Ctx {
  sqlite3* db;
  const Rule* rule;  // the rule whose rows are being built
  const Options& opts;
  Entities& E;
  std::int64_t end_ns;
  std::vector<Finding>& out;
};

// The severity comes from the catalogue: the sub-kind's, else the rule's.
Finding base_finding(Ctx& k, std::string subkind, std::int64_t ctx, std::int64_t thread) {
  Finding f;
  f.rule = std::string(k.rule->id);
  f.severity = k.rule->severity_of(subkind);
  f.subkind = std::move(subkind);
  f.context = static_cast<std::uint64_t>(ctx);
  if (ctx > 0) f.ancestry = k.E.ancestry(ctx, f.ancestry_elided);
  f.thread = static_cast<std::uint64_t>(thread);
  if (thread > 0) f.thread_name = k.E.thread_name(thread);
  return f;
}

void lost_cancel(Ctx& k, const Row& r) {
  const std::string sub = r.str("subkind");
  if (!k.rule->subkind(sub)) throw RuleError("rule lost-cancel: sub-kind '" + sub + "' is not in the catalogue");
  Finding f = base_finding(k, sub, r.get("ctx"), r.get("thread"));
  f.site = k.E.site(r.opt("site"));
  k.E.stack(r.opt("stack"), f.stack, f.stack_sites);
  f.stack_kind = "creation";
  const CtxInfo& c = k.E.ctx(r.get("ctx"));
  const std::int64_t created = r.get("created_ns");
  f.times.push_back({"created", created});
  std::string m;
  if (sub == "dropped") {
    const std::int64_t dropped = r.get("dropped_ns");
    f.times.push_back({"cancel dropped", dropped});
    m = "the cancel function of " + ctx_ref(c) + " was dropped without being called, " +
        format_duration(dropped - created) + " after creation";
    if (r.opt("dropped_thread")) m += " on thread '" + k.E.thread_name(r.get("dropped_thread")) + "'";
    if (auto d = r.opt("done_ns")) {
      f.times.push_back({"context done", *d});
      m += "; the context stayed live " + format_duration(*d - dropped) + " more, until it " + how_done(k.E, c);
    } else {
      m += "; the context was still live at the end of the run, " + format_duration(k.end_ns - dropped) +
           " later";
    }
  } else if (sub == "leaked") {
    f.times.push_back({"run end", k.end_ns});
    m = ctx_ref(c) + " was never cancelled: its cancel function was not called and the context was still live "
        "at the end of the run, " + format_duration(k.end_ns - created) + " after creation";
    if (r.get("registered") == 1 && c.parent)
      m += " (registered with ctx#" + std::to_string(*c.parent) + ", which keeps it alive)";
  } else {
    const std::int64_t d = r.get("done_ns");
    f.times.push_back({"context done", d});
    m = "the cancel function of " + ctx_ref(c) + " was never called; the context was released only because it " +
        how_done(k.E, c) + ", " + format_duration(d - created) + " after creation";
  }
  f.message = std::move(m);
  k.out.push_back(std::move(f));
}

void blind_wait(Ctx& k, const Row& r) {
  Finding f = base_finding(k, "", r.get("ctx"), r.get("thread"));
  f.wait = static_cast<std::uint64_t>(r.get("wait"));
  f.site = k.E.site(r.opt("site"));
  const CtxInfo& c = k.E.ctx(r.get("ctx"));
  const std::int64_t done = r.get("done_ns"), begin = r.get("begin_ns");
  f.times.push_back({"wait began", begin});
  f.times.push_back({"context done", done});
  std::string m = wait_what(k.E, r) + " on thread '" + f.thread_name + "' ";
  if (auto dc = r.opt("done_ctx"))
    m += "observes only ctx#" + std::to_string(*dc) + ", not its thread's context";
  else
    m += "does not observe its thread's context";
  if (auto e = r.opt("end_ns")) {
    f.times.push_back({"wait ended", *e});
    m += ": still blocked " + format_duration(*e - std::max(begin, done)) + " after ctx#" +
         std::to_string(c.id) + " " + how_done(k.E, c) + " (it ended on '" +
         k.E.name("wait_outcome", r.opt("outcome")) + "')";
  } else {
    f.times.push_back({"run end", k.end_ns});
    m += ": still blocked at the end of the run, " + format_duration(k.end_ns - std::max(begin, done)) +
         " after ctx#" + std::to_string(c.id) + " " + how_done(k.E, c);
  }
  if (begin > done) m += " (it began " + format_duration(begin - done) + " after the context was done)";
  f.message = std::move(m);
  k.out.push_back(std::move(f));
}

void stuck_wait(Ctx& k, const Row& r) {
  Finding f = base_finding(k, "", r.get("ctx"), r.get("thread"));
  f.wait = static_cast<std::uint64_t>(r.get("wait"));
  f.site = k.E.site(r.opt("site"));
  const std::int64_t begin = r.get("begin_ns");
  f.times.push_back({"wait began", begin});
  f.times.push_back({"run end", k.end_ns});
  std::string m = wait_what(k.E, r) + " on thread '" + f.thread_name + "' is still blocked at the end of the run, " +
                  format_duration(k.end_ns - begin) + " after it began";
  if (r.opt("ctx")) {
    const CtxInfo& c = k.E.ctx(r.get("ctx"));
    if (c.cancel_ns) {
      f.times.push_back({"context done", *c.cancel_ns});
      m += "; its context ctx#" + std::to_string(c.id) + " " + how_done(k.E, c) + " " +
           format_duration(k.end_ns - *c.cancel_ns) + " before the end";
    }
  }
  f.message = std::move(m);
  k.out.push_back(std::move(f));
}

void use_after_cancel(Ctx& k, const Row& r) {
  Finding f = base_finding(k, "", r.get("ctx"), r.get("thread"));
  f.wait = static_cast<std::uint64_t>(r.get("wait"));
  f.site = k.E.site(r.opt("site"));
  const std::int64_t begin = r.get("begin_ns"), cancel = r.get("cancel_ns");
  // Who cancelled too early: the premature cancel call's stack.
  k.E.stack(r.opt("stack"), f.stack, f.stack_sites);
  f.stack_kind = "cancel";
  f.times.push_back({"context cancelled", cancel});
  f.times.push_back({"wait began", begin});
  const CtxInfo& c = k.E.ctx(r.get("ctx"));
  std::string m = wait_what(k.E, r) + " began under ctx#" + std::to_string(c.id) + ", which this thread had already ";
  if (r.get("origin") == r.get("ctx"))
    m += "cancelled " + format_duration(begin - cancel) + " earlier" + at(k.E.site(r.opt("cancel_site")));
  else
    m += "cancelled (through ancestor ctx#" + std::to_string(r.get("origin")) + ") " +
         format_duration(begin - cancel) + " earlier" + at(k.E.site(r.opt("cancel_site")));
  m += ": it failed at once with 'canceled'";
  if (r.get("repeats") > 1) m += " (" + std::to_string(r.get("repeats")) + " times)";
  f.message = std::move(m);
  k.out.push_back(std::move(f));
}

void late_exit(Ctx& k, const Row& r) {
  Finding f = base_finding(k, "", r.get("ctx"), r.get("thread"));
  f.site = k.E.site(r.opt("site"));
  const std::int64_t done = r.get("done_ns");
  const std::int64_t from = std::max(done, r.get("spawn_ns"));
  const CtxInfo& c = k.E.ctx(r.get("ctx"));
  if (r.opt("spawn_ns")) f.times.push_back({"spawned", r.get("spawn_ns")});
  f.times.push_back({"context done", done});
  std::string m = "thread '" + f.thread_name + "' ";
  if (auto x = r.opt("exit_ns")) {
    f.times.push_back({"exited", *x});
    m += "exited " + format_duration(*x - from) + " after";
  } else {
    f.times.push_back({"run end", k.end_ns});
    m += "was still running at the end of the run, " + format_duration(k.end_ns - from) + " after";
  }
  m += " its context ctx#" + std::to_string(c.id) + " " + how_done(k.E, c) + " (grace " +
       format_duration(k.opts.late_exit_grace_ns) + ")";
  f.message = std::move(m);
  k.out.push_back(std::move(f));
}

// The C++ half of each rule: how its rows become findings.  Every rule of the
// catalogue must have one (checked at compile time below).
using Builder = void (*)(Ctx&, const Row&);
struct RuleBuilder {
  std::string_view id;
  Builder build;
};
constexpr RuleBuilder kBuilders[] = {{"lost-cancel", lost_cancel},
                                     {"blind-wait", blind_wait},
                                     {"stuck-wait", stuck_wait},
                                     {"use-after-cancel", use_after_cancel},
                                     {"late-exit", late_exit}};
constexpr Builder builder_for(std::string_view id) {
  for (const auto& b : kBuilders)
    if (b.id == id) return b.build;
  return nullptr;
}
constexpr bool every_rule_has_a_builder() {
  for (const Rule& r : rule_catalogue::rules())
    if (!builder_for(r.id)) return false;
  return true;
}
static_assert(every_rule_has_a_builder(), "a rule of the catalogue (analyzer/rules/*.sql) has no finding builder here");
static_assert(std::size(kBuilders) == rule_catalogue::rules().size(), "a finding builder for a rule not in the catalogue");

// Prepares a rule's statement, checks its columns, binds the grace periods.
std::unique_ptr<Stmt> prepare_rule(sqlite3* db, const Rule& rule, const Options& opts) {
  auto s = std::make_unique<Stmt>(db, rule.sql);
  check_columns(*s, rule);
  s->bind_named(":blind_wait_grace_ns", opts.blind_wait_grace_ns);
  s->bind_named(":late_exit_grace_ns", opts.late_exit_grace_ns);
  return s;
}

}  // namespace

namespace {
// One read transaction around the whole analysis: a trace still being written
// (WAL) then shows every rule the same snapshot.  Rolled back on any exit.
using sql::ReadSnapshot;  // one snapshot per pass (sql.hpp)
}  // namespace

Report analyze(sqlite3* db, const Options& opts, const ProgressFn& progress) {
  return analyze(db, opts, rule_catalogue::rules(), progress);
}

namespace {
Report analyze_rules(sqlite3* db, const Options& opts, std::span<const Rule> all_rules, const ProgressFn& progress);
}

Report analyze(sqlite3* db, const Options& opts, std::span<const Rule> all_rules, const ProgressFn& progress) {
  // Cancellation: SQLite calls the handler every 1,000 virtual-machine steps
  // (microseconds) of any statement; non-zero interrupts it (SQLITE_INTERRUPT).
  struct CancelHandler {
    sqlite3* db;
    explicit CancelHandler(sqlite3* d, const std::atomic<bool>* flag) : db(flag ? d : nullptr) {
      if (db)
        sqlite3_progress_handler(
            db, 1000, [](void* f) { return static_cast<const std::atomic<bool>*>(f)->load() ? 1 : 0; },
            const_cast<std::atomic<bool>*>(flag));
    }
    ~CancelHandler() {
      if (db) sqlite3_progress_handler(db, 0, nullptr, nullptr);
    }
  } handler(db, opts.cancel);
  auto cancelled = [&] { return opts.cancel && opts.cancel->load(); };
  try {
    if (cancelled()) throw AnalysisCancelled();
    Report r = analyze_rules(db, opts, all_rules, progress);
    if (cancelled()) throw AnalysisCancelled();
    return r;
  } catch (const sql::Error& e) {
    if (cancelled()) throw AnalysisCancelled();
    throw AnalysisError(e.what());
  }
}

namespace {
Report analyze_rules(sqlite3* db, const Options& opts, std::span<const Rule> all_rules, const ProgressFn& progress) {
  for (const auto& set : {&opts.rules, &opts.ignore})
    for (const auto& id : *set)
      if (!rule_catalogue::find(id)) throw RuleError("unknown rule '" + id + "'");
  std::vector<const Rule*> rules;
  for (const Rule& r : all_rules) {
    if (!builder_for(r.id)) throw RuleError("rule " + std::string(r.id) + ": no finding builder");
    if (opts.rules.empty() || opts.rules.count(std::string(r.id))) rules.push_back(&r);
  }
  // The helper tables live in memory.  Set before the read transaction: SQLite
  // refuses to change temp_store inside one once the connection has a temp
  // database (a TraceModel::load, or an earlier pass, may have opened it).
  sqlite3_exec(db, "PRAGMA temp_store = MEMORY", nullptr, nullptr, nullptr);
  ReadSnapshot snapshot(db);
  Report rep;
  const int steps = static_cast<int>(rules.size()) + 1;
  if (progress) progress("preparing", 0, steps);
  exec_bound(db, prelude_sql(), opts);

  std::int64_t end_ns = 0;
  {
    Stmt s(db,
           "SELECT coalesce(r.end_ns, r.last_commit_ns, 0), r.end_state, r.executable, r.events_recorded, "
           "r.events_dropped, r.failure FROM run r LIMIT 1");
    if (!s.step()) throw AnalysisError("the run table is empty");
    end_ns = opts.end_ns ? *opts.end_ns : s.i64(0);
    rep.run.complete = s.text(1) == "stopped";
    rep.run.program = s.text(2);
    rep.run.events = static_cast<std::uint64_t>(s.i64(3));
    rep.run.duration_ns = end_ns;
    if (s.text(1) == "failed")
      rep.warnings.push_back("recording failed (" + s.text(5) + "): the trace is incomplete, findings may be missing; "
                             "findings are as of the last commit, " + format_duration(end_ns) + " into the run");
    else if (!rep.run.complete && !opts.end_ns)
      rep.warnings.push_back("the run ended abnormally (no end marker: crashed, killed, or still running); "
                             "findings are as of the last commit, " + format_duration(end_ns) + " into the run");
    if (s.i64(4) > 0)
      rep.warnings.push_back(std::to_string(s.i64(4)) +
                             " events were dropped while recording (drop_when_full): findings may be incomplete");
  }

  Entities E(db);
  Ctx k{db, nullptr, opts, E, end_ns, rep.findings};
  int step = 1;
  for (const Rule* rule : rules) {
    if (progress) progress(rule->id, step, steps);
    ++step;
    if (opts.ignore.count(std::string(rule->id))) continue;
    const Builder b = builder_for(rule->id);
    k.rule = rule;
    auto s = prepare_rule(db, *rule, opts);
    while (s->step()) b(k, read_row(*s, rule->id));
  }
  // One finding per defect: a rule's finding about a wait replaces those of
  // the rules it supersedes about the same wait (the catalogue says which).
  for (const Rule* rule : rules) {
    if (rule->supersedes.empty() || opts.ignore.count(std::string(rule->id))) continue;
    std::set<std::uint64_t> waits;
    for (const Finding& f : rep.findings)
      if (f.rule == rule->id && f.wait != 0) waits.insert(f.wait);
    std::erase_if(rep.findings, [&](const Finding& f) {
      return f.wait != 0 && waits.count(f.wait) &&
             std::find(rule->supersedes.begin(), rule->supersedes.end(), f.rule) != rule->supersedes.end();
    });
  }
  // Ignored rules count as suppressed: run them only to count (cheap enough,
  // and the report must say what it hid).
  for (const Rule* rule : rules) {
    if (!opts.ignore.count(std::string(rule->id))) continue;
    auto s = prepare_rule(db, *rule, opts);
    std::size_t n = 0;
    while (s->step()) ++n;
    if (n) {
      rep.suppressed += n;
      rep.suppressed_by_rule[std::string(rule->id)] += n;
    }
  }
  std::stable_sort(rep.findings.begin(), rep.findings.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.site.file, a.site.line, a.rule, a.context, a.wait, a.thread) <
           std::tie(b.site.file, b.site.line, b.rule, b.context, b.wait, b.thread);
  });
  return rep;
}
}  // namespace

}  // namespace ctxscope::analysis

#include "ctxscope/trace_reader.hpp"

namespace ctxscope::analysis {

bool analyze_file(const std::string& path, const Options& opts, Report& out, std::string* err,
                  const ProgressFn& progress) {
  // No whole-file quick_check: it costs 3-4 scans of `events`, and the rules'
  // own queries meet any corruption in what they read (SQLITE_CORRUPT below).
  auto reader = trace::TraceReader::open(path, err, /*quick_check=*/false);
  if (!reader) return false;
  try {
    Report r = analyze(reader->db(), opts, progress);
    r.run.trace_path = path;
    if (reader->recovered_from_wal())
      r.warnings.push_back("the main file is empty (never checkpointed): events read from a private copy of its "
                           "-wal; the files were not changed");
    out = std::move(r);
    return true;
  } catch (const AnalysisCancelled&) {
    throw;  // the caller's own doing, not the file's
  } catch (const RuleError& e) {
    if (err) *err = path + ": " + e.what();
    return false;
  } catch (const AnalysisError& e) {
    if (err) *err = path + ": file is truncated or corrupt (" + e.what() + ")";
    return false;
  }
}

}  // namespace ctxscope::analysis
