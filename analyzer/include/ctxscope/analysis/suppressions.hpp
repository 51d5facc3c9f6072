// ctxscope/analysis/suppressions.hpp — LeakSanitizer-style suppression files.
//
// One entry per line: `rule:pattern`, e.g.
//   lost-cancel:legacy/*.cpp        # every lost-cancel in legacy/
//   blind-wait:Poller::run          # by function
//   *:third_party/*                 # any rule
// `#` starts a comment; blank lines are ignored.  The pattern is a glob
// (`*`, `?`, `[...]`) matched, like LSan, anywhere inside each of: the site's
// file, "file:line", the function, and every recorded stack frame; `^` and `$`
// anchor it at the start / end.  A finding is suppressed if any entry matches.
#pragma once

#include <string>
#include <vector>

#include "ctxscope/analysis/report.hpp"

namespace ctxscope::analysis {

struct Suppression {
  std::string rule;     ///< a rule id or "*"
  std::string pattern;
  int line = 0;         ///< in its file, for messages
};

class Suppressions {
 public:
  /// Parses `text`; on a malformed line returns false and sets `err` to
  /// "<origin>:<line>: <problem>".
  bool parse(const std::string& text, const std::string& origin, std::string* err);
  /// Reads and parses a file; `err` is one line naming the file and the problem.
  bool load(const std::string& path, std::string* err);

  bool matches(const Finding& f) const;
  const std::vector<Suppression>& entries() const noexcept { return entries_; }

  /// Moves matching findings out of `r.findings` into its suppressed counts.
  void apply(Report& r) const;

 private:
  std::vector<Suppression> entries_;
};

}  // namespace ctxscope::analysis
