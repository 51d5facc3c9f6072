// Printing findings: compiler-style text and SARIF 2.1.0.
#pragma once

#include <ostream>
#include <vector>

#include "Finding.h"
#include "TraceMatch.h"

namespace ctxscope::lint {

/// `file:line:col: error: message [ctxscope-<rule>]`, then its notes, one per line.
/// With `trace` (--trace): then the runtime findings the linter cannot see, one
/// note line each (`file:line:col: note: seen at run time only ... [ctxscope-<rule>]`).
void write_text(std::ostream& out, const std::vector<Finding>& findings, const TraceComparison* trace = nullptr);

/// One SARIF 2.1.0 log with one run of tool "ctxscope-lint": the rules as
/// reportingDescriptors, each finding a result with its location and its notes
/// as relatedLocations (the shape the trace analyzer writes).
/// With `trace`: each result's property `runtimeOccurrences`, the runtime note
/// among its relatedLocations, and the runtime-only findings as results of
/// level "note" with the property `source: "trace"`.
void write_sarif(std::ostream& out, const std::vector<Finding>& findings, const char* version,
                 const TraceComparison* trace = nullptr);

}  // namespace ctxscope::lint
