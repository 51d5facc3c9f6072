// ctxscope/analysis/report.hpp — the result of analysing one trace, and its
// renderings (text, JSON, SARIF 2.1.0, JUnit XML).
//
// Formatters are pure functions of the Report: same report, same bytes.  They
// never print machine-dependent data except what the trace itself holds (the
// program and file paths recorded in it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ctxscope/analysis/finding.hpp"

namespace ctxscope::analysis {

struct RunInfo {
  std::string trace_path;
  std::string program;      ///< as recorded in the trace (may be empty)
  bool complete = true;     ///< false: the run has no end marker (crashed / killed)
  std::int64_t duration_ns = 0;
  std::uint64_t events = 0;
};

struct Report {
  RunInfo run;
  std::vector<Finding> findings;          ///< sorted: file, line, rule, context
  std::vector<std::string> warnings;      ///< about the run itself ("ended abnormally")
  std::size_t suppressed = 0;             ///< dropped by --suppress / --ignore
  std::map<std::string, std::size_t> suppressed_by_rule;
  /// The directory the findings' paths are relative to (relativize_paths()),
  /// absolute; empty: paths are as recorded.  SARIF names it %SRCROOT%.
  std::string source_root;

  /// Number of findings whose severity is >= `level`.
  std::size_t count_at_least(Severity level) const noexcept;
};

/// The default source root of a report: the git top level (the nearest
/// directory holding `.git`) above the first finding's source file, else the
/// current directory.
std::string default_source_root(const Report&);
/// Makes every site path under `root` relative to it (findings' sites and
/// their ancestry's), and records `root` in the report.  Paths outside it stay
/// absolute.  Reports then read the same from any checkout, and suppressions
/// match the relative path.
void relativize_paths(Report&, const std::string& root);

enum class Format { text, json, sarif, junit };
/// "text" | "json" | "sarif" | "junit".
bool parse_format(const std::string& s, Format& out) noexcept;

/// How the text report looks: colour (SGR, for a terminal), the width the
/// notes under a diagnostic are wrapped to (0: never), quiet (the summary
/// line only).  The diagnostic line itself is never wrapped (tools parse it).
struct TextStyle {
  bool color = false;
  int width = 100;
  bool quiet = false;
};
std::string to_text(const Report&);
std::string to_text(const Report&, const TextStyle&);
/// One finding as to_text shows it (the probe's failure message).
/// "ns::f(…)": a demangled function name with its parameter list elided, for
/// text meant for a person ("ns::f()" and names without one unchanged).
std::string short_function(std::string_view function);
/// "creation stack", "cancel stack" (Finding::stack_kind), or "stack".
std::string stack_title(const Finding&);
/// Frame `i` of a finding's stack for a reader: "ns::f(…) at file:line"
/// (short_function), or the frame's own text when it has no function name.
std::string frame_for_reader(const Finding&, std::size_t i);
std::string finding_to_text(const Finding&);
std::string finding_to_text(const Finding&, const TextStyle&);
/// "ctxscope: N findings (E errors, W warnings)[, S suppressed (...)] in TRACE".
std::string summary_line(const Report&);
std::string to_json(const Report&);   ///< {"run":…, "findings":[…], "suppressed":…}
std::string to_sarif(const Report&);  ///< SARIF 2.1.0, one run, one result per finding
std::string to_junit(const Report&);  ///< one <testcase> per finding, each failed
std::string render(const Report&, Format, const TextStyle& = {});

/// Only the findings as JSON (the golden-file format: no run paths, no counts).
std::string findings_to_json(const std::vector<Finding>&);

}  // namespace ctxscope::analysis
