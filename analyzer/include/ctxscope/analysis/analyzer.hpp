// ctxscope/analysis/analyzer.hpp — run the rules over a trace.
//
// The rules are SQL files (analyzer/rules/*.sql, compiled into this library
// as the rule catalogue, ctxscope/rule_catalogue.hpp): each selects the rows
// that violate it from the trace's entity tables; the
// C++ here only turns those rows into Findings (ancestry, names, sites,
// stacks, messages).  This is the ONLY implementation of the rules: the CLI,
// the viewer and the probe all call `analyze`.
//
// Thread safety: `analyze` uses only the connection it is given; concurrent
// calls on different connections are fine.
#pragma once

#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ctxscope/analysis/options.hpp"
#include "ctxscope/analysis/report.hpp"
#include "ctxscope/rule_catalogue.hpp"

struct sqlite3;

namespace ctxscope::analysis {

/// Called before each step of the analysis (step in [0, steps)); used for the
/// CLI's progress line.  Must not throw.
using ProgressFn = std::function<void(std::string_view what, int step, int steps)>;

/// Runs every rule of the catalogue selected by `opts` (in `opts.rules`, or all
/// when it is empty, and not in `opts.ignore`) on an open trace connection (a
/// file opened with ctxscope::trace::TraceReader, or the probe's in-memory
/// database).  The connection's main database is only read; TEMP tables are
/// created.  Throws RuleError when a rule's query does not return exactly the
/// columns its catalogue entry declares, AnalysisError on any other SQL error
/// (a damaged trace).
Report analyze(sqlite3* db, const Options& opts, const ProgressFn& progress = {});
/// The same with another list of rules (each id must be one the engine has a
/// finding builder for): tests run a modified rule through the one engine.
Report analyze(sqlite3* db, const Options& opts, std::span<const rule_catalogue::Rule> rules,
               const ProgressFn& progress = {});

/// Opens `path` with the trace reader (read-only, validated) and analyses it.
/// On a bad file returns false with `err` = one line naming the file and the
/// problem, and leaves `out` untouched.  Throws AnalysisCancelled when
/// `opts.cancel` is set while it runs.
bool analyze_file(const std::string& path, const Options& opts, Report& out, std::string* err,
                  const ProgressFn& progress = {});

struct AnalysisError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// Options::cancel was set while the rules ran.
struct AnalysisCancelled : AnalysisError {
  AnalysisCancelled() : AnalysisError("analysis cancelled") {}
};
/// A rule that does not match its declaration (a result column missing,
/// misnamed or undeclared, a rule without a finding builder): a defect of the
/// build, not of the trace.  The message names the rule and the column.
struct RuleError : AnalysisError {
  using AnalysisError::AnalysisError;
};

/// The SQL of each rule, by id, exactly as compiled in (for docs and tests):
/// the catalogue's entries (`.id`, `.sql`).
using RuleSql = rule_catalogue::Rule;
constexpr std::span<const RuleSql> rule_sql() noexcept { return rule_catalogue::rules(); }
constexpr std::string_view prelude_sql() noexcept { return rule_catalogue::prelude_sql(); }

}  // namespace ctxscope::analysis
