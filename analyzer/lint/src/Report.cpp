#include "Report.h"

#include <filesystem>
#include <nlohmann/json.hpp>

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

// Relative paths stay relative to the working directory (%SRCROOT%), as CI
// uploads expect; absolute paths become file:// URIs.
nlohmann::json artifact(const std::string& file) {
  std::filesystem::path p(file);
  if (p.is_relative()) return {{"uri", p.generic_string()}, {"uriBaseId", "%SRCROOT%"}};
  return {{"uri", "file://" + p.generic_string()}};
}

nlohmann::json physical(const Position& at) {
  return {{"artifactLocation", artifact(at.file)},
          {"region", {{"startLine", at.line}, {"startColumn", at.column}}}};
}

}  // namespace

void write_sarif(std::ostream& out, const std::vector<Finding>& findings, const char* version) {
  nlohmann::json rules = nlohmann::json::array();
  for (const RuleInfo& r : kRules)
    rules.push_back({{"id", r.id},
                     {"name", r.name},
                     {"shortDescription", {{"text", r.summary}}},
                     {"helpUri", std::string("docs/lint.md#") + r.id},
                     {"defaultConfiguration", {{"level", "error"}}}});
  nlohmann::json results = nlohmann::json::array();
  for (const Finding& f : findings) {
    int index = 0;
    for (int i = 0; i < static_cast<int>(std::size(kRules)); ++i)
      if (f.rule == kRules[i].id) index = i;
    nlohmann::json related = nlohmann::json::array();
    int id = 0;
    for (const FindingNote& n : f.notes)
      related.push_back({{"id", id++}, {"message", {{"text", n.message}}}, {"physicalLocation", physical(n.at)}});
    nlohmann::json result = {{"ruleId", f.rule},
                             {"ruleIndex", index},
                             {"level", "error"},
                             {"message", {{"text", f.message}}},
                             {"locations", {{{"physicalLocation", physical(f.at)}}}}};
    if (!related.empty()) result["relatedLocations"] = related;
    results.push_back(std::move(result));
  }
  nlohmann::json log = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs",
       {{{"tool",
          {{"driver",
            {{"name", "ctxscope-lint"},
             {"version", version},
             {"informationUri", "https://github.com/ctxscope/ctxscope"},
             {"rules", rules}}}}},
         {"columnKind", "unicodeCodePoints"},
         {"results", results}}}}};
  out << log.dump(2) << '\n';
}

}  // namespace ctxscope::lint
