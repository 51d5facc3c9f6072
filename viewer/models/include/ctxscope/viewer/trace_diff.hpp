// ctxscope/viewer/trace_diff.hpp — two runs side by side: "did my fix remove
// the leak, and add nothing?" (ctxscope-viewer --diff A.db B.db).
//
// A DiffDocument is the two documents (each the trace model plus its report,
// as for one file) and analysis::diff_runs of them — the same comparison as
// `ctxscope diff A B`: findings fixed / new / kept, and per kind of context and
// wait the surplus entities that only one run has.  The viewer computes no
// match of its own.
//
// Thread safety: built on the loader's worker, then only read (shared).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ctxscope/analysis/diff.hpp"
#include "ctxscope/viewer/trace_document.hpp"

namespace ctxscope::viewer {

struct DiffDocument {
  DocumentPtr a, b;
  analysis::RunDiff diff;

  /// The document of run A (a = true) or B.
  const DocumentPtr& run(bool run_a) const noexcept { return run_a ? a : b; }
  /// Per context / wait of that run: 1 when only that run has it (its kind's surplus).
  const std::vector<std::uint8_t>& contexts_only_in(bool run_a) const noexcept {
    return run_a ? diff.context_only_a : diff.context_only_b;
  }
  const std::vector<std::uint8_t>& waits_only_in(bool run_a) const noexcept {
    return run_a ? diff.wait_only_a : diff.wait_only_b;
  }
};

using DiffPtr = std::shared_ptr<const DiffDocument>;

/// Loads `a` then `b` (load_document each) and compares them.  On a bad file
/// returns nullptr with `err` naming that file and the problem; `progress`
/// gets [0, 1] over both and may return false to cancel (`*cancelled = true`).
DiffPtr load_diff(const std::string& a, const std::string& b, std::string* err,
                  const std::function<bool(double)>& progress = {}, bool* cancelled = nullptr);

}  // namespace ctxscope::viewer
