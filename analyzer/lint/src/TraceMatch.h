// Static and dynamic findings side by side (`ctxscope-lint --trace TRACE.db`).
//
// The trace is analysed by the analysis library (ctxscope::analysis::analyze_file,
// the one implementation of the runtime rules); each static finding is matched
// with the runtime findings of the same rule at the same site (file and line):
// "this lost cancel happened 3 times in this run" or "not reached in this run",
// as a note of the finding (a SARIF related location).  The runtime findings
// that match no static finding are what the linter cannot see: returned apart.
#pragma once

#include <string>
#include <vector>

#include "Finding.h"

namespace ctxscope::analysis {
struct Report;
}

namespace ctxscope::lint {

struct TraceComparison {
  std::string trace;                 ///< the trace file, as given
  std::vector<Finding> runtime_only; ///< one per (rule, file, line), `runtime_count` = occurrences
  std::vector<std::string> warnings; ///< about the run (incomplete, ...)
};

/// Analyses `trace`; false with `err` set when it cannot be read.
bool load_trace(const std::string& trace, analysis::Report& out, std::string& err);

/// Annotates `findings` (runtime_count and a note each) from `report` and
/// returns the runtime findings no static finding matches.
TraceComparison compare_with_trace(std::vector<Finding>& findings, const analysis::Report& report,
                                   const std::string& trace);

/// True when two spellings of a source path name the same file: equal once
/// absolute and normalized, or a relative one is a trailing part of the other.
bool same_source_file(const std::string& a, const std::string& b);

}  // namespace ctxscope::lint
