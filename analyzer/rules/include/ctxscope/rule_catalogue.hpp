// ctxscope/rule_catalogue.hpp — every fact about ctxscope's rules, declared once.
//
// Each rule is one file, analyzer/rules/<id>.sql: a header block (id,
// severity, sub-kinds, summary, site, result columns, help, lint summary)
// followed by the commented SQL that selects its findings.  The build parses
// the header blocks (analyzer/rules/embed_rules.cmake) into the constexpr table
// this header exposes; the analyzer's rule engine, the CLI's --rules/--ignore
// choices, both tools' SARIF rules[], the table in docs/rules.md and the ids
// ctxscope-lint reports all read this table and nothing else.
//
// Header-only and dependency-free (no SQLite, no runtime), so the Clang-based
// linter links it as easily as the analyzer.  Everything here is constexpr
// data with static storage: thread-safe, valid for the whole program.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ctxscope::rule_catalogue {

/// How bad a finding is; ordered, so `f.severity >= Severity::warning` works.
enum class Severity : std::uint8_t { note = 0, warning = 1, error = 2 };

/// "note" | "warning" | "error".
constexpr std::string_view to_string(Severity s) noexcept {
  switch (s) {
    case Severity::note: return "note";
    case Severity::warning: return "warning";
    case Severity::error: return "error";
  }
  return "error";
}

/// Inverse of to_string; false (and `out` untouched) if `s` is none of them.
constexpr bool parse_severity(std::string_view s, Severity& out) noexcept {
  for (Severity v : {Severity::note, Severity::warning, Severity::error})
    if (to_string(v) == s) {
      out = v;
      return true;
    }
  return false;
}

/// A sub-kind of a rule (lost-cancel's "dropped", ...), with its own severity.
struct Subkind {
  std::string_view id;
  Severity severity;
  std::string_view summary;
};

struct Rule {
  std::string_view id;         ///< "lost-cancel": the id every tool reports
  std::string_view name;       ///< "LostCancel": SARIF's reportingDescriptor.name
  Severity severity;           ///< the default level (a sub-kind may say otherwise)
  std::span<const Subkind> subkinds;  ///< in the precedence order the SQL applies them
  std::string_view summary;    ///< one sentence
  std::string_view site;       ///< what a finding's site is, in words
  std::span<const std::string_view> site_calls;  ///< API calls one of which the site line holds
  std::span<const std::string_view> columns;     ///< the SQL's result columns, exactly
  std::string_view help;       ///< how to fix it
  std::string_view lint;       ///< what ctxscope-lint checks under this id ("" if it does not)
  std::string_view sql;        ///< the whole .sql file, header included
  /// Rules whose finding about the same wait this rule's finding replaces (one
  /// finding per defect: a blind wait still blocked at the end is blind-wait,
  /// not also stuck-wait).  Applied when both rules run.
  std::span<const std::string_view> supersedes = {};

  /// The sub-kind `id`, or nullptr.
  constexpr const Subkind* subkind(std::string_view sid) const noexcept {
    for (const Subkind& s : subkinds)
      if (s.id == sid) return &s;
    return nullptr;
  }
  /// The severity of a finding of sub-kind `sid` ("" or unknown: the rule's).
  constexpr Severity severity_of(std::string_view sid) const noexcept {
    const Subkind* s = subkind(sid);
    return s ? s->severity : severity;
  }
  constexpr bool declares_column(std::string_view c) const noexcept {
    for (std::string_view d : columns)
      if (d == c) return true;
    return false;
  }
};

}  // namespace ctxscope::rule_catalogue

#include "ctxscope/rule_catalogue_data.hpp"  // generated: generated::kRules, generated::kPreludeSql

namespace ctxscope::rule_catalogue {

/// Every rule, in catalogue order (the order of reports' rule lists and SARIF ruleIndex).
constexpr std::span<const Rule> rules() noexcept { return generated::kRules; }

/// The SQL every rule's query needs run first on the connection (TEMP helper tables).
constexpr std::string_view prelude_sql() noexcept { return generated::kPreludeSql; }

/// The rule `id`, or nullptr.
constexpr const Rule* find(std::string_view id) noexcept {
  for (const Rule& r : generated::kRules)
    if (r.id == id) return &r;
  return nullptr;
}

/// Position of `id` in rules() (SARIF ruleIndex); rules().size() if absent.
constexpr std::size_t index_of(std::string_view id) noexcept {
  std::size_t i = 0;
  for (const Rule& r : generated::kRules) {
    if (r.id == id) break;
    ++i;
  }
  return i;
}

/// The rule `id`, for a name written in code: in a constant expression an id
/// the catalogue lacks is a compile error (the throw is not a constant).
consteval const Rule& get(std::string_view id) {
  const Rule* r = find(id);
  if (!r) throw "ctxscope::rule_catalogue::get: no such rule";
  return *r;
}

}  // namespace ctxscope::rule_catalogue
