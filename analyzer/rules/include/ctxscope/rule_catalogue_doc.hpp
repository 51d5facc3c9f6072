// ctxscope/rule_catalogue_doc.hpp — the rule catalogue as the Markdown that
// docs/rules.md shows between its generated-section markers.  One renderer,
// used by the ctxscope-gen-rules-doc tool (which rewrites the page) and by the
// test that fails when the page is stale.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ctxscope/rule_catalogue.hpp"

namespace ctxscope::rule_catalogue {

inline constexpr std::string_view kDocBegin =
    "<!-- BEGIN GENERATED: rule catalogue (ctxscope-gen-rules-doc; edit the header blocks of "
    "analyzer/rules/*.sql instead) -->\n";
inline constexpr std::string_view kDocEnd = "<!-- END GENERATED: rule catalogue -->\n";

namespace doc_detail {
// A table cell: '|' would end the cell.
inline std::string cell(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '|') o += "\\|";
    else o += c;
  }
  return o;
}
}  // namespace doc_detail

/// The generated section, markers excluded: the rule table, then the sub-kinds.
inline std::string markdown() {
  using doc_detail::cell;
  std::string o = "| rule | severity | in one line | site | fix | also in `ctxscope-lint` |\n|---|---|---|---|---|---|\n";
  for (const Rule& r : rules()) {
    // "error (warning for `a`, `b`)": the sub-kinds whose level differs, by level.
    std::string sev(to_string(r.severity));
    for (Severity level : {Severity::error, Severity::warning, Severity::note}) {
      std::string ids;
      for (const Subkind& s : r.subkinds)
        if (s.severity == level && level != r.severity) ids += (ids.empty() ? "`" : ", `") + std::string(s.id) + "`";
      if (!ids.empty()) sev += " (" + std::string(to_string(level)) + " for " + ids + ")";
    }
    o += "| [`" + std::string(r.id) + "`](#" + std::string(r.id) + ") | " + sev + " | " + cell(r.summary) + " | " +
         cell(r.site) + " | " + cell(r.help) + " | " + (r.lint.empty() ? "no" : "yes: " + cell(r.lint)) + " |\n";
  }
  o += "\nSub-kinds, in the order the rule applies them (the first that fits):\n\n"
       "| rule | sub-kind | severity | condition |\n|---|---|---|---|\n";
  for (const Rule& r : rules())
    for (const Subkind& s : r.subkinds)
      o += "| `" + std::string(r.id) + "` | `" + std::string(s.id) + "` | " + std::string(to_string(s.severity)) +
           " | " + cell(s.summary) + " |\n";
  return o;
}

/// `page` with the text between kDocBegin and kDocEnd replaced by markdown();
/// nullopt when the page lacks the markers (in that order).
inline std::optional<std::string> with_generated_section(const std::string& page) {
  const auto b = page.find(kDocBegin);
  if (b == std::string::npos) return std::nullopt;
  const auto from = b + kDocBegin.size();
  const auto e = page.find(kDocEnd, from);
  if (e == std::string::npos) return std::nullopt;
  return page.substr(0, from) + markdown() + page.substr(e);
}

}  // namespace ctxscope::rule_catalogue
