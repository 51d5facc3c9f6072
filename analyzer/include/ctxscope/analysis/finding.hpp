// ctxscope/analysis/finding.hpp — one verdict of a rule, as plain data.
//
// A Finding is what every consumer (the CLI's formatters, the viewer's
// findings model, the probe) shows: it is produced only by the rule engine
// (analyzer.hpp) and never edited afterwards, so two consumers of the same trace
// show the same words.  Times are nanoseconds since the start of the run
// (the trace's first event), so reports do not depend on the machine's clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ctxscope/rule_catalogue.hpp"

namespace ctxscope::analysis {

/// The catalogue's severity (one enum for the analyzer, the linter and the docs).
using Severity = rule_catalogue::Severity;
/// "note" | "warning" | "error"; parse_severity is false if `s` is none of them.
using rule_catalogue::parse_severity;
using rule_catalogue::to_string;

/// A place in the user's source.  `line == 0` means unknown.
struct Site {
  std::string file;
  int line = 0;
  int column = 0;
  std::string function;

  bool known() const noexcept { return !file.empty() && line > 0; }
  /// "file:line:function" (or "<unknown>").
  std::string str() const;
  friend bool operator==(const Site&, const Site&) = default;
};

/// Most contexts a finding's ancestry lists (Finding::ancestry_elided).
inline constexpr std::size_t kAncestryKept = 32;

/// One context of a finding's ancestry, root first.
struct AncestryEntry {
  std::uint64_t context = 0;
  std::string kind;          ///< "background", "cancel", "timeout", ...
  Site site;                 ///< creation site (unknown for background/todo)
  std::int64_t done_ns = -1; ///< when it became done (-1: never during the run)
  /// How it became done, as the trace's `enums` names it: "explicit" (its
  /// cancel was called) | "parent" | "deadline" | "born_done"; "" if never.
  std::string done_reason;
  friend bool operator==(const AncestryEntry&, const AncestryEntry&) = default;
};

/// A named instant of a finding ("context cancelled", "wait began", ...).
struct Moment {
  std::string what;
  std::int64_t ns = 0;  ///< since run start
  friend bool operator==(const Moment&, const Moment&) = default;
};

struct Finding {
  std::string rule;         ///< a rule id of the catalogue (ctxscope/rule_catalogue.hpp)
  std::string subkind;      ///< one of that rule's sub-kinds, or "" for a rule without any
  Severity severity = Severity::error;
  std::string message;      ///< one sentence with the times that matter
  std::uint64_t context = 0;
  /// root → … → context.  Of a very deep chain, the root and the
  /// kAncestryKept − 1 contexts nearest the finding's (ending with it): the
  /// `ancestry_elided` between them are left out, so a report grows with the
  /// findings, not with findings × depth.
  std::vector<AncestryEntry> ancestry;
  std::uint64_t ancestry_elided = 0;    ///< contexts left out after ancestry[0]
  std::uint64_t thread = 0;
  std::string thread_name;
  std::uint64_t wait = 0;   ///< the wait concerned (0: none)
  Site site;                ///< where to look first (creation site, wait call, go() call)
  /// Frames of the creation (or cancel) stack, innermost first, when recorded
  /// (on by default: 8 frames): "function at file:line" each, and the same
  /// frames as sites (function, file, line; file empty when unknown).
  std::vector<std::string> stack;
  std::vector<Site> stack_sites;
  /// Whose stack: "creation" (lost-cancel: who created the context) or
  /// "cancel" (use-after-cancel: who cancelled it too early); "" without one.
  std::string stack_kind;
  std::vector<Moment> times;

  friend bool operator==(const Finding&, const Finding&) = default;
};

/// A finding's identity across runs and checkouts: a hash of its rule,
/// sub-kind, site (file name, line, function), the kinds and sites of its
/// ancestry and its thread's name — never of run-local ids or times, nor of
/// the directory the sources are in.  16 hex digits.  Two findings of one
/// report may share it (two threads of one name blocked at one line):
/// fingerprints() numbers the repeats.
std::string fingerprint(const Finding& f);
/// fingerprint() of each finding, in order, with "-2", "-3"... appended to the
/// second and later findings of one fingerprint: unique within the report.
std::vector<std::string> fingerprints(const std::vector<Finding>& fs);

/// The rule ids, in catalogue order: a view of rule_catalogue::rules() kept
/// for callers that only need the ids.
inline constexpr auto kRules = [] {
  std::array<std::string_view, rule_catalogue::rules().size()> ids{};
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = rule_catalogue::rules()[i].id;
  return ids;
}();
/// True if `id` is a rule of the catalogue.
constexpr bool is_rule(std::string_view id) noexcept { return rule_catalogue::find(id) != nullptr; }

/// "2.31 s", "40.0 ms", "12 µs": a duration for humans, stable across platforms.
std::string format_duration(std::int64_t ns);

}  // namespace ctxscope::analysis
