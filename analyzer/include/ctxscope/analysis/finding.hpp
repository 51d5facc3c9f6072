// ctxscope/analysis/finding.hpp — one verdict of a rule, as plain data.
//
// A Finding is what every consumer (the CLI's formatters, the viewer's
// findings model, the probe) shows: it is produced only by the rules
// (rules.hpp) and never edited afterwards, so two consumers of the same trace
// show the same words.  Times are nanoseconds since the start of the run
// (the trace's first event), so reports do not depend on the machine's clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ctxscope::analysis {

enum class Severity : std::uint8_t { note = 0, warning = 1, error = 2 };

std::string_view to_string(Severity) noexcept;
/// "note" | "warning" | "error"; false if `s` is none of them.
bool parse_severity(std::string_view s, Severity& out) noexcept;

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

/// One context of a finding's ancestry, root first.
struct AncestryEntry {
  std::uint64_t context = 0;
  std::string kind;          ///< "background", "cancel", "timeout", ...
  Site site;                 ///< creation site (unknown for background/todo)
  std::int64_t done_ns = -1; ///< when it became done (-1: never during the run)
  std::string done_reason;   ///< "explicit_call" | "parent" | "deadline" | "born_done" | ""
  friend bool operator==(const AncestryEntry&, const AncestryEntry&) = default;
};

/// A named instant of a finding ("context cancelled", "wait began", ...).
struct Moment {
  std::string what;
  std::int64_t ns = 0;  ///< since run start
  friend bool operator==(const Moment&, const Moment&) = default;
};

struct Finding {
  std::string rule;         ///< "lost-cancel", "blind-wait", "stuck-wait", "use-after-cancel", "late-exit"
  std::string subkind;      ///< lost-cancel: "leaked" | "dropped" | "released-by-parent" | "released-by-deadline"
  Severity severity = Severity::error;
  std::string message;      ///< one sentence with the times that matter
  std::uint64_t context = 0;
  std::vector<AncestryEntry> ancestry;  ///< root → … → context
  std::uint64_t thread = 0;
  std::string thread_name;
  std::uint64_t wait = 0;   ///< the wait concerned (0: none)
  Site site;                ///< where to look first (creation site, wait call, go() call)
  std::vector<std::string> stack;  ///< frames of the site's stack, when recorded
  std::vector<Moment> times;

  friend bool operator==(const Finding&, const Finding&) = default;
};

/// Canonical rule ids, in catalogue order.
inline constexpr std::string_view kRules[] = {"lost-cancel", "blind-wait", "stuck-wait",
                                              "use-after-cancel", "late-exit"};
bool is_rule(std::string_view id) noexcept;

/// "2.31 s", "40.0 ms", "12 µs": a duration for humans, stable across platforms.
std::string format_duration(std::int64_t ns);

}  // namespace ctxscope::analysis
