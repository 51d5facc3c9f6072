#include "Report.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string_view>
#include <nlohmann/json.hpp>

#include "Diagnostic.h"
#include "ctxscope/sarif.hpp"

namespace ctxscope::lint {

namespace {

// The level of a finding: its rule's severity in the catalogue.
std::string_view level(const Finding& f) {
  const auto* r = rule_catalogue::find(f.rule);
  return rule_catalogue::to_string(r ? r->severity : rule_catalogue::Severity::error);
}

}  // namespace

void write_text(std::ostream& out, const std::vector<Finding>& findings, const TraceComparison* trace) {
  for (const Finding& f : findings) {
    out << f.at.file << ':' << f.at.line << ':' << f.at.column << ": " << level(f) << ": " << f.message
        << " [ctxscope-" << f.rule << "]\n";
    for (const FindingNote& n : f.notes)
      out << n.at.file << ':' << n.at.line << ':' << n.at.column << ": note: " << n.message << '\n';
  }
  if (trace == nullptr) return;
  for (const std::string& w : trace->warnings) out << "ctxscope-lint: warning: " << w << '\n';
  if (trace->runtime_only.empty()) {
    out << "ctxscope-lint: every runtime finding in " << trace->trace << " matches a static finding\n";
    return;
  }
  out << "ctxscope-lint: " << trace->runtime_only.size() << " runtime finding site(s) in " << trace->trace
      << " that the static checks do not see:\n";
  for (const Finding& f : trace->runtime_only)
    out << (f.at.file.empty() ? std::string("<unknown>") : f.at.file) << ':' << f.at.line << ':' << f.at.column
        << ": note: " << f.message << " [ctxscope-" << f.rule << "]\n";
}

namespace {

constexpr const char* kDocsUri = "https://github.com/ctxscope/ctxscope/blob/main/docs/lint.md";

}  // namespace

void write_sarif(std::ostream& out, const std::vector<Finding>& findings, const char* version,
                 const TraceComparison* trace) {
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const auto* r : kRules) {
    const std::string id(r->id);
    rules.push_back(sarif::rule(id, std::string(r->name), std::string(r->lint), std::string(kDocsUri) + "#" + id,
                                std::string(rule_catalogue::to_string(r->severity)), std::string(r->help)));
  }
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const Finding& f : findings) {
    int index = 0;
    for (int i = 0; i < static_cast<int>(std::size(kRules)); ++i)
      if (f.rule == kRules[i]->id) index = i;
    nlohmann::ordered_json related = nlohmann::ordered_json::array();
    int id = 0;
    for (const FindingNote& n : f.notes) {
      auto loc = sarif::location(n.at.file, n.at.line, n.at.column);
      loc["id"] = id++;
      loc["message"] = {{"text", n.message}};
      related.push_back(std::move(loc));
    }
    nlohmann::ordered_json result = {{"ruleId", f.rule},
                             {"ruleIndex", index},
                             {"level", std::string(level(f))},
                             {"message", {{"text", f.message}}},
                             {"locations", nlohmann::ordered_json::array({sarif::location(f.at.file, f.at.line, f.at.column)})}};
    if (!related.empty()) result["relatedLocations"] = related;
    if (f.runtime_count >= 0) result["properties"] = {{"runtimeOccurrences", f.runtime_count}};
    results.push_back(std::move(result));
  }
  if (trace != nullptr)
    for (const Finding& f : trace->runtime_only) {
      nlohmann::ordered_json result = {{"ruleId", f.rule}, {"level", "note"}, {"message", {{"text", f.message}}}};
      for (int i = 0; i < static_cast<int>(std::size(kRules)); ++i)
        if (f.rule == kRules[i]->id) result["ruleIndex"] = i;
      if (!f.at.file.empty() && f.at.line > 0)
        result["locations"] = nlohmann::ordered_json::array(
            {sarif::location(f.at.file, f.at.line, f.at.column)});
      result["properties"] = {{"source", "trace"}, {"runtimeOccurrences", f.runtime_count}};
      results.push_back(std::move(result));
    }
  nlohmann::ordered_json run = sarif::run("ctxscope-lint", version, kDocsUri, std::move(rules));
  run["results"] = std::move(results);
  out << sarif::log(std::move(run));
}

}  // namespace ctxscope::lint
