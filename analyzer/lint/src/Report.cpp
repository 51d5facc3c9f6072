#include "Report.h"

#include <cctype>
#include <filesystem>
#include <string_view>
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

constexpr const char* kDocsUri = "https://github.com/ctxscope/ctxscope/blob/main/docs/lint.md";

// RFC 3986: everything but unreserved characters and '/' percent-encoded (as
// the trace analyzer's writer does).
std::string uri_path(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : path) {
    if (std::isalnum(c) || std::string_view("/-._~:+@").find(static_cast<char>(c)) != std::string_view::npos) {
      o += static_cast<char>(c);
    } else {
      o += '%';
      o += hex[c >> 4];
      o += hex[c & 15];
    }
  }
  return o;
}

// Relative paths stay relative to the working directory (%SRCROOT%), as CI
// uploads expect; absolute paths become file:// URIs.
nlohmann::ordered_json artifact(const std::string& file) {
  std::filesystem::path p(file);
  if (p.is_relative()) return {{"uri", uri_path(p.generic_string())}, {"uriBaseId", "%SRCROOT%"}};
  return {{"uri", "file://" + uri_path(p.generic_string())}};
}

nlohmann::ordered_json physical(const Position& at) {
  return {{"artifactLocation", artifact(at.file)},
          {"region", {{"startLine", at.line}, {"startColumn", at.column}}}};
}

}  // namespace

void write_sarif(std::ostream& out, const std::vector<Finding>& findings, const char* version) {
  nlohmann::ordered_json rules = nlohmann::ordered_json::array();
  for (const RuleInfo& r : kRules)
    rules.push_back({{"id", r.id},
                     {"name", r.name},
                     {"shortDescription", {{"text", r.summary}}},
                     {"helpUri", std::string(kDocsUri) + "#" + r.id},
                     {"defaultConfiguration", {{"level", "error"}}}});
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const Finding& f : findings) {
    int index = 0;
    for (int i = 0; i < static_cast<int>(std::size(kRules)); ++i)
      if (f.rule == kRules[i].id) index = i;
    nlohmann::ordered_json related = nlohmann::ordered_json::array();
    int id = 0;
    for (const FindingNote& n : f.notes)
      related.push_back({{"id", id++}, {"message", {{"text", n.message}}}, {"physicalLocation", physical(n.at)}});
    nlohmann::ordered_json result = {{"ruleId", f.rule},
                             {"ruleIndex", index},
                             {"level", "error"},
                             {"message", {{"text", f.message}}},
                             {"locations", {{{"physicalLocation", physical(f.at)}}}}};
    if (!related.empty()) result["relatedLocations"] = related;
    results.push_back(std::move(result));
  }
  nlohmann::ordered_json log = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs",
       {{{"tool",
          {{"driver",
            {{"name", "ctxscope-lint"},
             {"version", version},
             {"informationUri", kDocsUri},
             {"rules", rules}}}}},
         {"columnKind", "unicodeCodePoints"},
         {"results", results}}}}};
  out << log.dump(2) << '\n';
}

}  // namespace ctxscope::lint
