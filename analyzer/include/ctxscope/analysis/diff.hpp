// ctxscope/analysis/diff.hpp — two runs compared: "did my fix remove the leak,
// and add nothing?"
//
//   RunDiff d = diff_runs(model_a, report_a, model_b, report_b);
//   d.fixed  — findings of A that B no longer has
//   d.added  — findings of B that A did not have (a regression)
//   d.kept   — findings in both
//   d.contexts / d.waits — entities matched by what they are, not by run-local
//                          ids, whose counts differ between the runs
//
// Findings match first by fingerprint (rule, sub-kind, site with its line,
// ancestry, thread name: finding.hpp), then — so that an edit that only moves
// lines does not turn a leak into "fixed" plus "new" — by the same without
// line numbers.  Contexts match by kind and creation function and file with
// the kinds and functions of their ancestry; waits by object kind, label and
// function and file.  Both ignore line numbers for the same reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ctxscope/analysis/finding.hpp"
#include "ctxscope/analysis/report.hpp"
#include "ctxscope/analysis/trace_model.hpp"

namespace ctxscope::analysis {

/// One kind of entity, by what it is, and how many each run had.
struct EntityCount {
  std::string what;  ///< "timeout created in run_task (buggy.cpp) under background → cause (buggy.cpp)"
  std::uint64_t a = 0, b = 0;
  /// The surplus of the run that has more: its entities of this kind (model
  /// indices, in creation order) beyond the other run's count — the first
  /// min(a, b) of each run pair up, the rest are "only in A" / "only in B".
  /// One of the two is empty.
  std::vector<std::uint32_t> only_a, only_b;
  friend bool operator==(const EntityCount&, const EntityCount&) = default;
};

struct RunDiff {
  std::vector<Finding> fixed, added, kept;  ///< kept: B's copy
  /// Where each finding is in its report: fixed_in_a[i] indexes A's findings
  /// for fixed[i]; added_in_b / kept_in_b index B's.
  std::vector<std::uint32_t> fixed_in_a, added_in_b, kept_in_b;
  std::vector<EntityCount> contexts, waits; ///< only the kinds whose counts differ, sorted by `what`
  bool regressed() const noexcept { return !added.empty(); }
  /// Per model index of A / B: 1 when the context (wait) is in an only_a
  /// (only_b) surplus above.  Sized to the model's contexts (waits).
  std::vector<std::uint8_t> context_only_a, context_only_b, wait_only_a, wait_only_b;
};

RunDiff diff_runs(const TraceModel& a, const Report& ra, const TraceModel& b, const Report& rb);

/// Text (the findings in compiler style, then the entity counts) and JSON
/// (`{"a", "b", "fixed", "added", "kept", "contexts", "waits"}`, findings as
/// in the JSON report).
std::string diff_to_text(const RunDiff& d, const std::string& a_name, const std::string& b_name);
std::string diff_to_json(const RunDiff& d, const std::string& a_name, const std::string& b_name);

}  // namespace ctxscope::analysis
