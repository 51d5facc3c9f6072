// ctxscope/sarif.hpp — the SARIF 2.1.0 shape shared by `ctxscope` (trace
// analyzer) and `ctxscope-lint` (static checks), so that a finding confirmed by
// both looks the same to a SARIF viewer or CI upload: same URI encoding, same
// location shape, same log skeleton.  Header-only (nlohmann::ordered_json).
#pragma once

#include <cctype>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace ctxscope::sarif {

using json = nlohmann::ordered_json;

inline constexpr const char* kSchemaUri = "https://json.schemastore.org/sarif-2.1.0.json";

/// RFC 3986: everything but unreserved characters and '/' percent-encoded.
inline std::string escape_path(std::string_view path) {
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

/// An artifactLocation: absolute paths become file:// URIs; relative paths stay
/// relative to the working directory (uriBaseId %SRCROOT%), as CI uploads expect.
inline json artifact_location(const std::string& file) {
  const std::filesystem::path p(file);
  if (p.is_relative()) return {{"uri", escape_path(p.generic_string())}, {"uriBaseId", "%SRCROOT%"}};
  return {{"uri", "file://" + escape_path(p.generic_string())}};
}

/// A location with a physicalLocation; column 0 = unknown (omitted); a
/// non-empty function adds a logicalLocation.
inline json location(const std::string& file, long line, long column = 0, const std::string& function = {}) {
  json region{{"startLine", line}};
  if (column > 0) region["startColumn"] = column;
  json loc{{"physicalLocation", {{"artifactLocation", artifact_location(file)}, {"region", region}}}};
  if (!function.empty())
    loc["logicalLocations"] = json::array({{{"fullyQualifiedName", function}, {"kind", "function"}}});
  return loc;
}

/// A reportingDescriptor for the driver's rule list; a non-empty `help` (how
/// to fix it) becomes its `help` text.
inline json rule(const std::string& id, const std::string& name, const std::string& summary,
                 const std::string& help_uri, const std::string& level, const std::string& help = {}) {
  json r{{"id", id},
         {"name", name},
         {"shortDescription", {{"text", summary}}},
         {"helpUri", help_uri},
         {"defaultConfiguration", {{"level", level}}}};
  if (!help.empty()) r["help"] = {{"text", help}};
  return r;
}

/// A run whose tool is `name`; the caller adds results and anything else.
inline json run(const std::string& name, const std::string& version, const std::string& info_uri, json rules) {
  return {{"tool",
           {{"driver",
             {{"name", name}, {"version", version}, {"informationUri", info_uri}, {"rules", std::move(rules)}}}}},
          {"columnKind", "unicodeCodePoints"}};
}

/// The whole log around one run, pretty-printed.
inline std::string log(json one_run) {
  json l{{"$schema", kSchemaUri}, {"version", "2.1.0"}, {"runs", json::array({std::move(one_run)})}};
  return l.dump(2) + "\n";
}

}  // namespace ctxscope::sarif
