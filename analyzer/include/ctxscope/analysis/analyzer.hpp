// ctxscope/analysis/analyzer.hpp — run the rules over a trace.
//
// The rules are SQL files (analyzer/rules/*.sql, compiled into this library):
// each selects the rows that violate it from the trace's entity tables; the
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

struct sqlite3;

namespace ctxscope::analysis {

/// Called before each step of the analysis (step in [0, steps)); used for the
/// CLI's progress line.  Must not throw.
using ProgressFn = std::function<void(std::string_view what, int step, int steps)>;

/// Runs every rule not in `opts.ignore` on an open trace connection (a file
/// opened with ctxscope::trace::TraceReader, or the probe's in-memory database).
/// The connection's main database is only read; TEMP tables are created.
/// Throws AnalysisError on an SQL error (a damaged trace).
Report analyze(sqlite3* db, const Options& opts, const ProgressFn& progress = {});

/// Opens `path` with the trace reader (read-only, validated) and analyses it.
/// On a bad file returns false with `err` = one line naming the file and the
/// problem, and leaves `out` untouched.
bool analyze_file(const std::string& path, const Options& opts, Report& out, std::string* err,
                  const ProgressFn& progress = {});

struct AnalysisError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The SQL of each rule, by id, exactly as compiled in (for docs and tests).
struct RuleSql {
  std::string_view id;
  std::string_view sql;
};
std::span<const RuleSql> rule_sql() noexcept;
std::string_view prelude_sql() noexcept;

}  // namespace ctxscope::analysis
