// Golden reports recorded from the real samples: each sample runs traced in
// both modes and its findings, reduced to what does not change between runs
// or machines (rule, sub-kind, severity, site as repo-relative file:line,
// function, thread name, the ancestry's kinds and sites — no ids, no times, no
// absolute paths), must equal tests/analysis/golden/recorded/<sample>.<mode>.json.
//
// Regenerate after an intended change with scripts/regen-goldens.sh (or
// CTXSCOPE_UPDATE_GOLDEN=1 on this binary) and review the diff.
//
// Every golden, recorded or synthetic, is also checked against the sources:
// a cited samples/ file:line exists, and a finding's line holds one of the API
// calls its rule names (the catalogue's `site-calls`); synthetic goldens cite
// only files under synthetic/, which must not exist.
#include <gtest/gtest.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <tuple>
#include <vector>

#include "ctxscope/analysis/report.hpp"
#include "samples.hpp"
#include "test_util.hpp"

namespace ctxscope::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

const fs::path kSource = CTXSCOPE_SOURCE_DIR;
const fs::path kGolden = CTXSCOPE_GOLDEN_DIR;

bool updating() {
  const char* u = std::getenv("CTXSCOPE_UPDATE_GOLDEN");
  return u && std::string(u) == "1";
}

// A path inside the repository, relative to it; other paths unchanged.
std::string repo_relative(const std::string& file) {
  const std::string root = kSource.lexically_normal().string() + "/";
  const std::string p = fs::path(file).lexically_normal().string();
  return p.rfind(root, 0) == 0 ? p.substr(root.size()) : p;
}

std::string site_ref(const analysis::Site& s) {
  return s.known() ? repo_relative(s.file) + ":" + std::to_string(s.line) : "";
}

// Unnamed threads are named after their id ("thread#7"), which depends on
// thread start order: keep only that the thread had no name.
std::string stable_thread_name(const std::string& n) {
  return n.rfind("thread#", 0) == 0 ? "thread#?" : n;
}

// A stack frame's function as every build type names it: the bare name.  A
// function inlined into its caller (RelWithDebInfo) is named by DWARF, often
// unqualified ("get"); the same function out of line (Debug) by the symbol
// table, qualified with its parameters ("ns::(anonymous namespace)::get(int)").
std::string bare_function(const std::string& fn) {
  std::string s = analysis::short_function(fn);
  for (const char* tail : {"(…)", "()"})
    if (s.size() >= std::strlen(tail) && s.compare(s.size() - std::strlen(tail), std::string::npos, tail) == 0)
      s.resize(s.size() - std::strlen(tail));
  int depth = 0;
  std::size_t cut = 0;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] == '(' || s[i] == '<') ++depth;
    else if (s[i] == ')' || s[i] == '>') --depth;
    else if (depth == 0 && s[i] == ':' && s[i + 1] == ':') cut = i + 2;
  }
  return s.substr(cut);
}

ordered_json normalized(const analysis::Finding& f) {
  ordered_json j;
  j["rule"] = f.rule;
  j["subkind"] = f.subkind;
  j["severity"] = std::string(analysis::to_string(f.severity));
  j["site"] = site_ref(f.site);
  j["function"] = f.site.function;
  j["thread"] = stable_thread_name(f.thread_name);
  auto anc = ordered_json::array();
  for (const auto& a : f.ancestry) anc.push_back({{"kind", a.kind}, {"site", site_ref(a.site)}});
  j["ancestry"] = std::move(anc);
  // The stack's top frame (stacks are on by default): the user's own call,
  // the same in every build type.  Deeper frames (the libc start-up, how the
  // sample's functions nest) are not part of a verdict.
  if (!f.stack_sites.empty()) {
    const auto& top = f.stack_sites.front();
    j["stack"] = {{"kind", f.stack_kind}, {"top", site_ref(top)}, {"function", bare_function(top.function)}};
  }
  return j;
}

// The golden text of a report: findings in a canonical order (the report's
// own order breaks ties by context and thread ids, which vary between runs).
std::string golden_text(const std::string& sample, const std::string& mode, const analysis::Report& rep) {
  std::vector<ordered_json> fs;
  for (const auto& f : rep.findings) fs.push_back(normalized(f));
  std::sort(fs.begin(), fs.end(), [](const auto& a, const auto& b) { return a.dump() < b.dump(); });
  ordered_json j{{"sample", sample}, {"mode", mode}, {"findings", fs}};
  return j.dump(2) + "\n";
}

struct Case {
  Sample sample;
  const char* mode;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.sample.name << "." << c.mode; }

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (const auto& s : kSamples)
    for (const char* m : {"buggy", "fixed"}) v.push_back({s, m});
  return v;
}

class RecordedGolden : public ::testing::TestWithParam<Case> {};

TEST_P(RecordedGolden, NormalizedFindingsMatchTheGoldenFile) {
  const auto& [sample, mode] = GetParam();
  if (!sample.exe) GTEST_SKIP() << "sample-" << sample.name << " is not part of this build";
  const auto rep = run_sample_traced(sample, mode, test_dir());
  const std::string actual = golden_text(sample.name, mode, rep);
  const auto path = kGolden / "recorded" / (std::string(sample.name) + "." + mode + ".json");
  if (updating()) {
    fs::create_directories(path.parent_path());
    write_file(path, actual);
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing (run scripts/regen-goldens.sh)";
  EXPECT_EQ(read_file(path), actual) << "golden file " << path
                                     << " differs (regenerate with scripts/regen-goldens.sh if intended)\n"
                                     << analysis::to_text(rep);
}

// The report in every format, as a CI system reads it, from a real run: paths
// relative to the checkout (so the goldens hold from any checkout location),
// then what varies between runs masked — durations and times, context,
// thread, wait and object ids, the trace's path — and the findings in a
// canonical order (ties broken by fingerprint, not by run-local ids).
std::string masked(std::string s) {
  static const std::regex dur(R"re(-?[0-9]+(\.[0-9]+)? (ns|µs|ms|s)\b)re");
  static const std::regex ids(R"re((ctx#|thread#|object #|wait#|\(#)[0-9]+)re");
  static const std::regex json_nums(
      R"re("(context|thread|wait|ns|done_ns|duration_ns|events|startLine_ignored|id_ignored)": -?[0-9]+)re");
  static const std::regex times_obj(R"re("timesNs": \{[^}]*\})re");
  s = std::regex_replace(s, dur, "<t>");
  s = std::regex_replace(s, ids, "$1<n>");
  s = std::regex_replace(s, json_nums, "\"$1\": 0");
  s = std::regex_replace(s, times_obj, "\"timesNs\": {}");
  return s;
}

TEST_P(RecordedGolden, EveryFormatMatchesTheGoldenFromAnyCheckout) {
  const auto& [sample, mode] = GetParam();
  if (!sample.exe) GTEST_SKIP() << "sample-" << sample.name << " is not part of this build";
  if (std::string(mode) != "buggy") GTEST_SKIP() << "fixed modes report nothing (their JSON golden says so)";
  auto rep = run_sample_traced(sample, mode, test_dir());
  analysis::relativize_paths(rep, kSource.lexically_normal().string());
  // Stacks: the top frame only (see normalized()), in every format.
  for (auto& f : rep.findings) {
    if (f.stack.size() > 1) f.stack.resize(1);
    if (f.stack_sites.size() > 1) f.stack_sites.resize(1);
    for (std::size_t i = 0; i < f.stack.size() && i < f.stack_sites.size(); ++i) {
      auto& st = f.stack_sites[i];
      st.function = bare_function(st.function);
      f.stack[i] = st.function + (st.known() ? " at " + st.file + ":" + std::to_string(st.line) : "");
    }
  }
  rep.run.trace_path = "trace.db";
  rep.run.program = fs::path(rep.run.program).filename().string();
  std::stable_sort(rep.findings.begin(), rep.findings.end(), [](const analysis::Finding& a, const analysis::Finding& b) {
    return std::make_tuple(a.site.file, a.site.line, a.rule, analysis::fingerprint(a), masked(a.message)) <
           std::make_tuple(b.site.file, b.site.line, b.rule, analysis::fingerprint(b), masked(b.message));
  });
  analysis::TextStyle plain;
  const std::pair<const char*, std::string> formats[] = {
      {"txt", analysis::to_text(rep, plain)},
      {"report.json", analysis::to_json(rep)},
      {"sarif", analysis::to_sarif(rep)},
      {"junit.xml", analysis::to_junit(rep)},
  };
  const std::string checkout = kSource.lexically_normal().string();
  for (const auto& [ext, text] : formats) {
    std::string located = text;  // SARIF's %SRCROOT% names the checkout
    for (std::size_t p; (p = located.find(checkout)) != std::string::npos;) located.replace(p, checkout.size(), "<checkout>");
    const std::string actual = masked(located);
    const auto path = kGolden / "recorded" / (std::string(sample.name) + "." + mode + "." + ext);
    if (updating()) {
      write_file(path, actual);
      continue;
    }
    ASSERT_TRUE(fs::exists(path)) << path << " is missing (run scripts/regen-goldens.sh)";
    EXPECT_EQ(read_file(path), actual) << "golden file " << path
                                       << " differs (regenerate with scripts/regen-goldens.sh if intended)";
  }
}

INSTANTIATE_TEST_SUITE_P(Samples, RecordedGolden, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           std::string n = std::string(i.param.sample.name) + "_" + i.param.mode;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

// ---- cited lines against the sources ----------------------------------------

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> v;
  std::ifstream in(p);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// One cited place of a golden: "file:line", and the rule whose site it is
// ("" for an ancestry entry, which names its context's creation).
struct Citation {
  std::string golden, site, rule;
};

// Checks one citation; returns "" or what is wrong.
std::string check_citation(const Citation& c) {
  if (c.site.empty()) return "";
  const auto colon = c.site.rfind(':');
  if (colon == std::string::npos) return "no line number";
  const std::string file = c.site.substr(0, colon);
  const int line = std::atoi(c.site.c_str() + colon + 1);
  if (file.rfind("synthetic/", 0) == 0)
    return fs::exists(kSource / "synthetic") ? "synthetic/ exists in the repository: synthetic sites must not look real"
                                             : "";
  if (file.rfind("samples/", 0) != 0) return "cites neither samples/ nor synthetic/";
  const auto text = lines_of(kSource / file);
  if (text.empty()) return "no such file";
  if (line < 1 || line > static_cast<int>(text.size()))
    return "line " + std::to_string(line) + " does not exist (" + std::to_string(text.size()) + " lines)";
  const std::string& l = text[static_cast<std::size_t>(line - 1)];
  std::vector<std::string_view> calls;
  if (c.rule.empty()) {
    calls = {"with_cancel", "with_timeout", "with_deadline", "with_cancel_cause", "with_value", "without_cancel",
             "with_context"};
  } else {
    const auto* r = rule_catalogue::find(c.rule);
    if (!r) return "unknown rule " + c.rule;
    calls.assign(r->site_calls.begin(), r->site_calls.end());
  }
  for (auto call : calls)
    if (std::regex_search(l, std::regex("\\b" + std::string(call) + "\\s*\\("))) return "";
  return "the line holds none of the calls its " + (c.rule.empty() ? std::string("context kind") : "rule " + c.rule) +
         " names: " + l;
}

std::vector<Citation> citations() {
  std::vector<Citation> v;
  auto site_of = [](const nlohmann::json& s) {
    return s.is_string() ? s.get<std::string>()
                         : (s["file"].get<std::string>().empty() ? std::string()
                                                                 : s["file"].get<std::string>() + ":" +
                                                                       std::to_string(s["line"].get<int>()));
  };
  auto add = [&](const fs::path& p, const nlohmann::json& findings) {
    for (const auto& f : findings) {
      v.push_back({p.filename().string(), site_of(f["site"]), f["rule"].get<std::string>()});
      for (const auto& a : f["ancestry"]) v.push_back({p.filename().string(), site_of(a["site"]), ""});
    }
  };
  for (const auto& e : fs::directory_iterator(kGolden))
    if (e.path().string().ends_with(".findings.json")) add(e.path(), nlohmann::json::parse(read_file(e.path())));
  if (fs::exists(kGolden / "recorded"))
    for (const auto& e : fs::directory_iterator(kGolden / "recorded"))
      if (e.path().extension() == ".json") add(e.path(), nlohmann::json::parse(read_file(e.path()))["findings"]);
  return v;
}

TEST(GoldenCitations, EveryCitedSampleLineExistsAndHoldsTheCallItsRuleNames) {
  const auto cs = citations();
  std::size_t real = 0;
  for (const auto& c : cs) {
    if (c.site.rfind("samples/", 0) == 0) ++real;
    const std::string problem = check_citation(c);
    EXPECT_EQ(problem, "") << c.golden << " cites " << c.site << (c.rule.empty() ? "" : " for " + c.rule);
  }
  if (!updating()) {
    EXPECT_GT(real, 20u) << "the recorded goldens cite the samples";
  }
}

// A lost cancel's creation stack starts at the line that created the context
// (the finding's site): the runtime's frames are stripped, and the call is
// looked up at the return address - 1.
TEST(GoldenCitations, ALostCancelsStackStartsAtItsCreationSite) {
  std::size_t checked = 0;
  for (const auto& e : fs::directory_iterator(kGolden / "recorded")) {
    if (e.path().extension() != ".json" || e.path().string().ends_with(".report.json")) continue;
    const auto golden = nlohmann::json::parse(read_file(e.path()));
    for (const auto& f : golden["findings"]) {
      if (f["rule"] != "lost-cancel") continue;
      ASSERT_TRUE(f.contains("stack")) << e.path().filename() << ": a lost-cancel finding without a creation stack";
      EXPECT_EQ(f["stack"]["kind"], "creation");
      EXPECT_EQ(f["stack"]["top"], f["site"]) << e.path().filename();
      ++checked;
    }
  }
  if (!updating()) {
    EXPECT_GE(checked, 4u) << "lost-cancel and propagation-tree report lost cancels";
  }
}

TEST(GoldenCitations, TheCheckRejectsALineThatDoesNotExistOrHoldsNoSuchCall) {
  EXPECT_NE(check_citation({"t", "samples/ci-job/buggy.cpp:9999", "stuck-wait"}), "");
  EXPECT_NE(check_citation({"t", "samples/ci-job/nope.cpp:1", "stuck-wait"}), "");
  EXPECT_NE(check_citation({"t", "samples/ci-job/buggy.cpp:1", "stuck-wait"}), "");  // the file's banner
  EXPECT_NE(check_citation({"t", "elsewhere/x.cpp:1", "stuck-wait"}), "");
}

}  // namespace
}  // namespace ctxscope::testing
