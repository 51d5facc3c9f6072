// The rules' output, independent of the front end that shows it.
//
// A rule (LostCancel, BlindWait) finds a problem and hands a Diagnostic to a
// Reporter.  The Reporter maps locations out of macros, drops what a
// `// NOLINT(ctxscope-<rule>)` comment suppresses and what was already reported
// (a template instantiated twice yields one finding), then passes it to the
// front end: the ctxscope-lint printer or clang-tidy's diag().
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "clang/AST/ASTContext.h"
#include "clang/Basic/SourceLocation.h"
#include "ctxscope/rule_catalogue.hpp"

namespace ctxscope::lint {

/// The rules this linter checks, as indexes into kRules.
enum class Rule { lost_cancel, blind_wait };

/// Their entries in the rule catalogue shared with the trace analyzer: ids,
/// severities and words come from there (a name the catalogue lacks does not
/// compile).  In the order of `Rule`.
inline constexpr const rule_catalogue::Rule* kRules[] = {&rule_catalogue::get("lost-cancel"),
                                                         &rule_catalogue::get("blind-wait")};
constexpr const rule_catalogue::Rule& catalogue_entry(Rule r) noexcept { return *kRules[static_cast<int>(r)]; }

/// The rule id shared with the trace analyzer: "lost-cancel", "blind-wait".
const char* rule_id(Rule r) noexcept;
/// The clang-tidy check name: "ctxscope-lost-cancel".
std::string check_name(Rule r);

struct Note {
  clang::SourceLocation loc;
  std::string message;
};

struct Diagnostic {
  Rule rule;
  clang::SourceLocation loc;
  std::string message;
  std::vector<Note> notes;
};

class Reporter {
 public:
  virtual ~Reporter() = default;
  /// Filters (NOLINT, duplicates) and forwards to emit().  Locations inside
  /// macro expansions are reported where the macro is used.
  void report(const clang::ASTContext& ctx, Diagnostic d);
  /// Forget the reported set: call between translation units.
  void reset() { seen_.clear(); }

 protected:
  virtual void emit(const clang::ASTContext& ctx, const Diagnostic& d) = 0;

 private:
  std::set<std::pair<unsigned, int>> seen_;  // (expansion loc, rule)
};

/// True when the line of `loc` carries `NOLINT` / `NOLINT(<checks>)` naming
/// this rule (or the line before carries `NOLINTNEXTLINE(...)`), with
/// clang-tidy's syntax: a list of check names or globs such as `ctxscope-*`.
bool is_suppressed(const clang::SourceManager& sm, clang::SourceLocation loc, Rule r);

}  // namespace ctxscope::lint
