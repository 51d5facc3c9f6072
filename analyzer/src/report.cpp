// Report renderings.  Each format is a pure function of the Report.
#include "ctxscope/analysis/report.hpp"

#include <nlohmann/json.hpp>

#include "ctxscope/sarif.hpp"
#include "ctxscope/version.hpp"

#include <filesystem>
#include <sstream>

namespace ctxscope::analysis {
namespace {

using nlohmann::ordered_json;

const char* kToolUri = "https://github.com/ctxscope/ctxscope/blob/main/docs/rules.md";

ordered_json site_json(const Site& s) {
  return ordered_json{{"file", s.file}, {"line", s.line}, {"column", s.column}, {"function", s.function}};
}

ordered_json finding_json(const Finding& f, const std::string& fp) {
  ordered_json j;
  j["rule"] = f.rule;
  j["fingerprint"] = fp;
  j["subkind"] = f.subkind;
  j["severity"] = std::string(to_string(f.severity));
  j["message"] = f.message;
  j["site"] = site_json(f.site);
  j["context"] = f.context;
  auto anc = ordered_json::array();
  for (const auto& a : f.ancestry) {
    ordered_json e{{"context", a.context}, {"kind", a.kind}, {"site", site_json(a.site)}};
    e["done_ns"] = a.done_ns;
    e["done_reason"] = a.done_reason;
    anc.push_back(std::move(e));
  }
  j["ancestry"] = std::move(anc);
  if (f.ancestry_elided) j["ancestry_elided"] = f.ancestry_elided;  // left out after the root (a very deep chain)
  j["thread"] = f.thread;
  j["thread_name"] = f.thread_name;
  j["wait"] = f.wait;
  j["stack"] = f.stack;
  if (!f.stack.empty() && !f.stack_kind.empty()) j["stack_kind"] = f.stack_kind;
  auto times = ordered_json::array();
  for (const auto& m : f.times) times.push_back(ordered_json{{"what", m.what}, {"ns", m.ns}});
  j["times"] = std::move(times);
  return j;
}

std::string location(const Site& s) {
  if (!s.known()) return "<unknown>";
  std::string out = s.file + ":" + std::to_string(s.line);
  if (s.column > 0) out += ":" + std::to_string(s.column);
  return out;
}

// "buggy.cpp" of "/src/samples/x/buggy.cpp": reports name a file by its name
// where the line is for a reader, not a tool.
std::string file_name(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

// "ctx#12 timeout (buggy.cpp:39)": one context of an ancestry.
std::string ancestry_item(const AncestryEntry& a) {
  std::string out = "ctx#" + std::to_string(a.context) + " " + a.kind;
  if (a.site.known()) out += " (" + file_name(a.site.file) + ":" + std::to_string(a.site.line) + ")";
  return out;
}

// The items of a finding's ancestry line: each context, and after the root
// "… N more …" where a very deep chain was shortened.
std::vector<std::string> ancestry_items(const Finding& f) {
  std::vector<std::string> items;
  for (std::size_t i = 0; i < f.ancestry.size(); ++i) {
    items.push_back(ancestry_item(f.ancestry[i]));
    if (i == 0 && f.ancestry_elided) items.push_back("… " + std::to_string(f.ancestry_elided) + " more …");
  }
  return items;
}

std::string ancestry_line(const Finding& f) {
  std::string out;
  for (const auto& item : ancestry_items(f)) out += (out.empty() ? "" : " → ") + item;
  return out;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters even escaped.
        if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') o += '?';
        else o += static_cast<char>(c);
    }
  }
  return o;
}

}  // namespace

std::size_t Report::count_at_least(Severity level) const noexcept {
  std::size_t n = 0;
  for (const auto& f : findings)
    if (f.severity >= level) ++n;
  return n;
}

bool parse_format(const std::string& s, Format& out) noexcept {
  if (s == "text") out = Format::text;
  else if (s == "json") out = Format::json;
  else if (s == "sarif") out = Format::sarif;
  else if (s == "junit") out = Format::junit;
  else return false;
  return true;
}

std::string default_source_root(const Report& r) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const Finding& f : r.findings) {
    const fs::path p(f.site.file);
    if (!f.site.known() || !p.is_absolute()) continue;
    for (fs::path d = p.parent_path(); !d.empty() && d != d.root_path(); d = d.parent_path())
      if (fs::exists(d / ".git", ec)) return d.string();
    break;
  }
  const fs::path cwd = fs::current_path(ec);
  return ec ? std::string() : cwd.string();
}

void relativize_paths(Report& r, const std::string& root) {
  if (root.empty()) return;
  std::string prefix = root;
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  r.source_root = prefix;
  prefix += '/';
  auto rel = [&](Site& s) {
    if (s.file.size() > prefix.size() && s.file.compare(0, prefix.size(), prefix) == 0) s.file.erase(0, prefix.size());
  };
  for (Finding& f : r.findings) {
    rel(f.site);
    for (AncestryEntry& a : f.ancestry) rel(a.site);
    // Stack frames: the site and its text ("function at file:line") alike.
    for (std::size_t i = 0; i < f.stack_sites.size() && i < f.stack.size(); ++i) {
      Site& st = f.stack_sites[i];
      const std::string before = st.file;
      rel(st);
      if (st.file == before) continue;
      const std::string tail = " at " + before + ":" + std::to_string(st.line);
      std::string& text = f.stack[i];
      if (text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0)
        text.replace(text.size() - tail.size(), tail.size(), " at " + st.file + ":" + std::to_string(st.line));
    }
  }
}

std::string short_function(std::string_view fn) {
  // The parameter list is the last balanced (...) (after it only qualifiers
  // such as " const"); "(anonymous namespace)" earlier in the name stays.
  const std::size_t close = fn.rfind(')');
  if (close == std::string_view::npos) return std::string(fn);
  int depth = 0;
  for (std::size_t i = close + 1; i-- > 0;) {
    if (fn[i] == ')') ++depth;
    else if (fn[i] == '(' && --depth == 0) {
      if (i + 1 == close) return std::string(fn);  // no parameters: nothing to elide
      return std::string(fn.substr(0, i)) + "(…)" + std::string(fn.substr(close + 1));
    }
  }
  return std::string(fn);
}

std::string stack_title(const Finding& f) { return f.stack_kind.empty() ? "stack" : f.stack_kind + " stack"; }

std::string frame_for_reader(const Finding& f, std::size_t i) {
  const Site* st = i < f.stack_sites.size() ? &f.stack_sites[i] : nullptr;
  if (!st || st->function.empty()) return i < f.stack.size() ? f.stack[i] : std::string();
  std::string out = short_function(st->function);
  if (st->known()) out += " at " + st->file + ":" + std::to_string(st->line);
  return out;
}

namespace {
// SGR sequences, compiler-style: location bold, the severity in its colour.
struct Sgr {
  bool on;
  std::string operator()(const char* code, const std::string& text) const {
    return on ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
  }
};
const char* severity_sgr(Severity s) {
  switch (s) {
    case Severity::error: return "1;31";
    case Severity::warning: return "1;35";
    case Severity::note: return "1;36";
  }
  return "1";
}
// "    ancestry: a → b → c" broken at the arrows so no line passes `width`.
void wrapped_ancestry(std::ostringstream& o, const Finding& f, int width) {
  const std::string head = "    ancestry: ", cont(head.size(), ' ');
  std::string line = head;
  std::size_t visible = head.size();  // columns (the arrow is one column, three bytes)
  bool first = true;
  for (const std::string& item : ancestry_items(f)) {
    const std::size_t add = (first ? 0 : 3) + item.size();
    if (!first && width > 0 && visible + add > static_cast<std::size_t>(width)) {
      o << line << " →\n";
      line = cont + item;
      visible = cont.size() + item.size();
    } else {
      line += (first ? "" : " → ") + item;
      visible += add;
    }
    first = false;
  }
  o << line << "\n";
}
}  // namespace

std::string finding_to_text(const Finding& f) { return finding_to_text(f, TextStyle{}); }

std::string finding_to_text(const Finding& f, const TextStyle& st) {
  const Sgr c{st.color};
  std::ostringstream o;
  o << c("1", location(f.site) + ":") << " " << c(severity_sgr(f.severity), std::string(to_string(f.severity)) + ":")
    << " " << f.message << " " << c("2", "[ctxscope-" + f.rule + "]") << "\n";
  // The context's creation site as a note, unless it is the site itself.
  if (!f.ancestry.empty()) {
    const auto& ctx = f.ancestry.back();
    if (ctx.site.known() && !(ctx.site == f.site))
      o << c("1", location(ctx.site) + ":") << " " << c(severity_sgr(Severity::note), "note:") << " context ctx#"
        << ctx.context << " (" << ctx.kind << ") created here\n";
    wrapped_ancestry(o, f, st.width);
  }
  if (!f.thread_name.empty() || f.thread != 0)
    o << "    thread: " << (f.thread_name.empty() ? "<unnamed>" : f.thread_name) << " (#" << f.thread << ")\n";
  if (!f.stack.empty()) o << "    " << stack_title(f) << ":\n";
  // For a reader: parameter lists elided (the JSON and SARIF keep them).
  for (std::size_t i = 0; i < f.stack.size(); ++i) o << "    #" << i << " " << frame_for_reader(f, i) << "\n";
  return o.str();
}

std::string summary_line(const Report& r) {
  std::ostringstream o;
  const std::size_t errors = r.count_at_least(Severity::error);
  const std::size_t warnings = r.count_at_least(Severity::warning) - errors;
  o << "ctxscope: " << r.findings.size() << (r.findings.size() == 1 ? " finding" : " findings") << " ("
    << errors << (errors == 1 ? " error, " : " errors, ") << warnings
    << (warnings == 1 ? " warning)" : " warnings)");
  if (r.suppressed > 0) {
    o << ", " << r.suppressed << " suppressed (";
    bool first = true;
    for (const auto& [rule, n] : r.suppressed_by_rule) {
      o << (first ? "" : ", ") << rule << ": " << n;
      first = false;
    }
    o << ")";
  }
  o << " in " << r.run.trace_path;
  return o.str();
}

std::string to_text(const Report& r) { return to_text(r, TextStyle{}); }

std::string to_text(const Report& r, const TextStyle& st) {
  const Sgr c{st.color};
  std::ostringstream o;
  if (!st.quiet) {
    for (const auto& w : r.warnings)
      o << c("1", r.run.trace_path + ":") << " " << c(severity_sgr(Severity::warning), "warning:") << " " << w << " "
        << c("2", "[ctxscope-run]") << "\n";
    for (const auto& f : r.findings) o << finding_to_text(f, st);
  }
  o << c("1", summary_line(r)) << "\n";
  return o.str();
}

std::string findings_to_json(const std::vector<Finding>& fs) {
  auto arr = ordered_json::array();
  const auto fps = fingerprints(fs);
  for (std::size_t i = 0; i < fs.size(); ++i) arr.push_back(finding_json(fs[i], fps[i]));
  return arr.dump(2) + "\n";
}

std::string to_json(const Report& r) {
  ordered_json j;
  j["run"] = ordered_json{{"trace", r.run.trace_path}, {"program", r.run.program},
                          {"complete", r.run.complete}, {"duration_ns", r.run.duration_ns},
                          {"events", r.run.events}};
  j["warnings"] = r.warnings;
  const std::size_t errors = r.count_at_least(Severity::error);
  j["summary"] = ordered_json{{"findings", r.findings.size()},
                              {"errors", errors},
                              {"warnings", r.count_at_least(Severity::warning) - errors},
                              {"suppressed", r.suppressed},
                              {"suppressed_by_rule", r.suppressed_by_rule}};
  auto arr = ordered_json::array();
  const auto fps = fingerprints(r.findings);
  for (std::size_t i = 0; i < r.findings.size(); ++i) arr.push_back(finding_json(r.findings[i], fps[i]));
  j["findings"] = std::move(arr);
  return j.dump(2) + "\n";
}

std::string to_sarif(const Report& r) {
  auto rules = ordered_json::array();
  for (const auto& rule : rule_catalogue::rules()) {
    const std::string id(rule.id);
    rules.push_back(sarif::rule(id, std::string(rule.name), std::string(rule.summary),
                                std::string(kToolUri) + "#" + id, std::string(to_string(rule.severity)),
                                std::string(rule.help)));
  }
  auto results = ordered_json::array();
  const auto fps = fingerprints(r.findings);
  for (std::size_t fi = 0; fi < r.findings.size(); ++fi) {
    const Finding& f = r.findings[fi];
    ordered_json res;
    res["ruleId"] = f.rule;
    // A finding of a rule outside the catalogue (hand-made) has no index.
    if (const std::size_t idx = rule_catalogue::index_of(f.rule); idx < rule_catalogue::rules().size())
      res["ruleIndex"] = idx;
    res["level"] = std::string(to_string(f.severity));  // SARIF levels share the names
    res["message"] = {{"text", f.message}};
    auto loc_of = [](const Site& s) { return sarif::location(s.file, s.line, s.column, s.function); };
    res["locations"] = ordered_json::array();
    if (f.site.known()) res["locations"].push_back(loc_of(f.site));
    auto related = ordered_json::array();
    int rid = 1;
    for (const auto& a : f.ancestry) {
      if (!a.site.known()) continue;
      auto l = loc_of(a.site);
      l["id"] = rid++;
      l["message"] = {{"text", "ctx#" + std::to_string(a.context) + " (" + a.kind + ") created here"}};
      related.push_back(std::move(l));
    }
    if (!related.empty()) res["relatedLocations"] = std::move(related);
    if (!f.stack.empty()) {
      auto frames = ordered_json::array();
      for (std::size_t i = 0; i < f.stack.size(); ++i) {
        // A frame with a source line is a physical location (code viewers link it).
        const Site* st = i < f.stack_sites.size() ? &f.stack_sites[i] : nullptr;
        ordered_json l = st && st->known() ? loc_of(*st) : ordered_json::object();
        l["message"] = {{"text", f.stack[i]}};
        frames.push_back({{"location", std::move(l)}});
      }
      const std::string what = (f.stack_kind.empty() ? std::string("creation") : f.stack_kind) + " stack";
      res["stacks"] = ordered_json::array({{{"message", {{"text", what}}}, {"frames", frames}}});
    }
    // Stable identity across runs and checkouts (finding.hpp: fingerprint()).
    res["partialFingerprints"] = {{"ctxscope/v2", fps[fi]}};
    ordered_json props{{"context", f.context}, {"thread", f.thread}, {"threadName", f.thread_name}};
    if (!f.subkind.empty()) props["subkind"] = f.subkind;
    if (!f.ancestry.empty()) props["ancestry"] = ancestry_line(f);
    auto times = ordered_json::object();
    for (const auto& m : f.times) times[m.what] = m.ns;
    props["timesNs"] = std::move(times);
    res["properties"] = std::move(props);
    results.push_back(std::move(res));
  }
  ordered_json run = sarif::run("ctxscope", CTXSCOPE_VERSION, kToolUri, std::move(rules));
  ordered_json invocation{{"executionSuccessful", true}};
  if (!r.warnings.empty()) {
    auto notes = ordered_json::array();
    for (const auto& w : r.warnings) notes.push_back({{"level", "warning"}, {"message", {{"text", w}}}});
    invocation["toolExecutionNotifications"] = std::move(notes);
  }
  run["invocations"] = ordered_json::array({invocation});
  // Relative URIs (relativize_paths) resolve against the source root.
  if (!r.source_root.empty())
    run["originalUriBaseIds"] = {{"%SRCROOT%", {{"uri", "file://" + sarif::escape_path(r.source_root) + "/"}}}};
  if (!r.run.trace_path.empty())
    run["artifacts"] = ordered_json::array(
        {{{"location", sarif::artifact_location(r.run.trace_path)}, {"roles", ordered_json::array({"analysisTarget"})}}});
  run["results"] = std::move(results);
  run["properties"] = {{"suppressed", r.suppressed}, {"runComplete", r.run.complete}};
  return sarif::log(std::move(run));
}

std::string to_junit(const Report& r) {
  std::ostringstream o;
  const std::size_t n = r.findings.size();
  const std::size_t tests = n == 0 ? 1 : n;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<testsuites name=\"ctxscope\" tests=\"" << tests << "\" failures=\"" << n << "\" errors=\"0\">\n";
  o << "  <testsuite name=\"ctxscope " << xml_escape(r.run.trace_path) << "\" tests=\"" << tests
    << "\" failures=\"" << n << "\" errors=\"0\" skipped=\"" << 0 << "\">\n";
  if (!r.warnings.empty() || r.suppressed > 0) {
    o << "    <properties>\n";
    for (const auto& w : r.warnings) o << "      <property name=\"warning\" value=\"" << xml_escape(w) << "\"/>\n";
    o << "      <property name=\"suppressed\" value=\"" << r.suppressed << "\"/>\n";
    o << "    </properties>\n";
  }
  if (n == 0) o << "    <testcase classname=\"ctxscope\" name=\"no findings\"/>\n";
  const auto fps = fingerprints(r.findings);
  for (std::size_t fi = 0; fi < r.findings.size(); ++fi) {
    const Finding& f = r.findings[fi];
    // A stable name (CI history tracks tests by name): no run-local ids, no
    // directory, the fingerprint last.
    const std::string where = f.site.known() ? file_name(f.site.file) + ":" + std::to_string(f.site.line) : "<unknown>";
    const std::string name = f.rule + (f.subkind.empty() ? "" : "/" + f.subkind) + " at " + where +
                             (f.thread_name.empty() ? "" : " thread '" + f.thread_name + "'") + " [" + fps[fi] + "]";
    o << "    <testcase classname=\"ctxscope." << xml_escape(f.rule) << "\" name=\"" << xml_escape(name)
      << "\"";
    if (f.site.known()) o << " file=\"" << xml_escape(f.site.file) << "\" line=\"" << f.site.line << "\"";
    o << ">\n";
    o << "      <failure type=\"" << to_string(f.severity) << "\" message=\"" << xml_escape(f.message) << "\">";
    std::string body = location(f.site) + ": " + std::string(to_string(f.severity)) + ": " + f.message + "\n";
    if (!f.ancestry.empty()) body += "ancestry: " + ancestry_line(f) + "\n";
    if (!f.thread_name.empty()) body += "thread: " + f.thread_name + "\n";
    if (!f.stack.empty()) body += stack_title(f) + ":\n";
    for (const auto& fr : f.stack) body += "  " + fr + "\n";
    o << xml_escape(body) << "</failure>\n";
    o << "    </testcase>\n";
  }
  o << "  </testsuite>\n</testsuites>\n";
  return o.str();
}

std::string render(const Report& r, Format f, const TextStyle& st) {
  switch (f) {
    case Format::text: return to_text(r, st);
    case Format::json: return to_json(r);
    case Format::sarif: return to_sarif(r);
    case Format::junit: return to_junit(r);
  }
  return to_text(r);
}

}  // namespace ctxscope::analysis
