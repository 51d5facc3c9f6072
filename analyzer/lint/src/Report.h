// Printing findings: compiler-style text and SARIF 2.1.0.
#pragma once

#include <ostream>
#include <vector>

#include "Finding.h"

namespace ctxscope::lint {

/// `file:line:col: error: message [ctxscope-<rule>]`, then its notes, one per line.
void write_text(std::ostream& out, const std::vector<Finding>& findings);

/// One SARIF 2.1.0 log with one run of tool "ctxscope-lint": the rules as
/// reportingDescriptors, each finding a result with its location and its notes
/// as relatedLocations (the shape the trace analyzer writes).
void write_sarif(std::ostream& out, const std::vector<Finding>& findings, const char* version);

}  // namespace ctxscope::lint
