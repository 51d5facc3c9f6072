#include "Report.h"

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

void write_text(std::ostream& out, const std::vector<Finding>& findings) {
  for (const Finding& f : findings) {
    out << f.at.file << ':' << f.at.line << ':' << f.at.column << ": " << level(f) << ": " << f.message
        << " [ctxscope-" << f.rule << "]\n";
    for (const FindingNote& n : f.notes)
      out << n.at.file << ':' << n.at.line << ':' << n.at.column << ": note: " << n.message << '\n';
  }
}

namespace {

constexpr const char* kDocsUri = "https://github.com/ctxscope/ctxscope/blob/main/docs/lint.md";

}  // namespace

void write_sarif(std::ostream& out, const std::vector<Finding>& findings, const char* version) {
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
    results.push_back(std::move(result));
  }
  nlohmann::ordered_json run = sarif::run("ctxscope-lint", version, kDocsUri, std::move(rules));
  run["results"] = std::move(results);
  out << sarif::log(std::move(run));
}

}  // namespace ctxscope::lint
