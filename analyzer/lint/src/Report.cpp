#include "Report.h"

#include <cctype>
#include <filesystem>
#include <string_view>
#include <nlohmann/json.hpp>

#include "ctxscope/sarif.hpp"

namespace ctxscope::lint {

void write_text(std::ostream& out, const std::vector<Finding>& findings) {
  for (const Finding& f : findings) {
    out << f.at.file << ':' << f.at.line << ':' << f.at.column << ": error: " << f.message
        << " [ctxscope-" << f.rule << "]\n";
    for (const FindingNote& n : f.notes)
      out << n.at.file << ':' << n.at.line << ':' << n.at.column << ": note: " << n.message << '\n';
  }
}

namespace {

struct RuleInfo {
  const char* id;
  const char* name;
  const char* summary;
};
constexpr RuleInfo kRules[] = {
    {"lost-cancel", "LostCancel",
     "The cancel function of a cancelable context is discarded or not used on every path to the end "
     "of the function (possible context leak)."},
    {"blind-wait", "BlindWait",
     "A blocking call that cannot observe the Context in scope: it will not give up when the context "
     "is done."},
};

constexpr const char* kDocsUri = "https://github.com/ctxscope/ctxscope/blob/main/docs/lint.md";

}  // namespace

void write_sarif(std::ostream& out, const std::vector<Finding>& findings, const char* version) {
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const RuleInfo& r : kRules)
    rules.push_back(sarif::rule(r.id, r.name, r.summary, std::string(kDocsUri) + "#" + r.id, "error"));
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const Finding& f : findings) {
    int index = 0;
    for (int i = 0; i < static_cast<int>(std::size(kRules)); ++i)
      if (f.rule == kRules[i].id) index = i;
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
                             {"level", "error"},
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
