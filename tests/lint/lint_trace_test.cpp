// ctxscope-lint --trace: static findings side by side with the trace
// analyzer's on a recorded run of a sample (recorded here, by running the
// sample's executable under CTXSCOPE_TRACE).  The runtime counts expected are
// read from the analyzer's recorded goldens (tests/analysis/golden/recorded),
// not written here.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "LintHarness.h"

namespace ctxscope::lint::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kSource = CTXSCOPE_SOURCE_DIR;

#ifdef CTXSCOPE_SAMPLES_DIR
const fs::path kSamples = CTXSCOPE_SAMPLES_DIR;
#else
const fs::path kSamples;
#endif

// Runs samples/<name> in `mode` with tracing on; the trace's path.
fs::path record(const std::string& name, const std::string& mode) {
  fs::path exe = kSamples / ("sample-" + name);
  if (kSamples.empty() || !fs::exists(exe)) return {};
  fs::path trace = temp_dir("trace") / (name + "." + mode + ".db");
  Result r = run({"/usr/bin/env", "CTXSCOPE_TRACE=" + trace.string(), "/usr/bin/timeout", "-k", "5", "60",
                  exe.string(), "--mode=" + mode});
  EXPECT_EQ(r.exit_code, 0) << exe << " --mode=" << mode << ":\n" << r.err;
  return trace;
}

// (rule, line) -> how many findings the analyzer's golden has there, in `file` of `sample`.
std::map<LineRule, int> golden_counts(const std::string& sample, const std::string& mode) {
  std::ifstream in(kSource / "tests/analysis/golden/recorded" / (sample + "." + mode + ".json"));
  std::map<LineRule, int> counts;
  if (!in) return counts;
  json j = json::parse(in);
  const std::string prefix = "samples/" + sample + "/" + mode + ".cpp:";
  for (const json& f : j["findings"]) {
    std::string site = f["site"].get<std::string>();
    if (site.rfind(prefix, 0) != 0) continue;
    counts[{std::stoi(site.substr(prefix.size())), f["rule"].get<std::string>()}]++;
  }
  return counts;
}

Result lint_with_trace(const std::string& sample, const std::string& source_mode, const fs::path& trace,
                       const std::vector<std::string>& more = {}) {
  fs::path file = kSource / "samples" / sample / (source_mode + ".cpp");
  std::vector<std::string> argv = {CTXSCOPE_LINT_EXE, "--trace", trace.string()};
  for (const std::string& m : more) argv.push_back(m);
  argv.push_back(file.string());
  argv.push_back("--");
  for (const std::string& a : compile_args()) argv.push_back(a);
  argv.push_back("-I" + file.parent_path().string());
  argv.push_back("-I" + (kSource / "samples/common").string());
  return run(argv);
}

// The runtime note under each static finding: line -> text after "at run time (...): ".
std::map<int, std::string> runtime_notes(const std::string& out, const std::string& file_name) {
  static const std::regex note(R"(^(.*):(\d+):\d+: note: at run time \([^)]*\): (.*)$)");
  std::map<int, std::string> notes;
  std::stringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, note) && fs::path(m[1].str()).filename() == file_name)
      notes[std::stoi(m[2].str())] = m[3].str();
  }
  return notes;
}

// Runtime-only entries: (line, rule) -> occurrences.
std::map<LineRule, int> runtime_only(const std::string& out, const std::string& file_name) {
  static const std::regex entry(
      R"(^(.*):(\d+):\d+: note: seen at run time only \((once|(\d+) times) in [^)]*\): .*\[ctxscope-([a-z-]+)\]$)");
  std::map<LineRule, int> s;
  std::stringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, entry) && fs::path(m[1].str()).filename() == file_name)
      s[{std::stoi(m[2].str()), m[5].str()}] = m[4].matched ? std::stoi(m[4].str()) : 1;
  }
  return s;
}

std::string times(int n) { return n == 1 ? "once" : std::to_string(n) + " times"; }

TEST(LintTrace, EachStaticFindingSaysHowOftenTheRunHitIt) {
  fs::path trace = record("lost-cancel", "buggy");
  if (trace.empty()) GTEST_SKIP() << "the samples are not built";
  Result r = lint_with_trace("lost-cancel", "buggy", trace);
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  std::set<LineRule> statics = findings(r.out, "buggy.cpp");
  ASSERT_FALSE(statics.empty()) << r.out;
  std::map<int, std::string> notes = runtime_notes(r.out, "buggy.cpp");
  std::map<LineRule, int> golden = golden_counts("lost-cancel", "buggy");
  for (const LineRule& f : statics) {
    ASSERT_TRUE(notes.count(f.first)) << "no runtime note for line " << f.first << "\n" << r.out;
    auto g = golden.find(f);
    if (g == golden.end())
      EXPECT_NE(notes[f.first].find("not reached in this run"), std::string::npos) << r.out;
    else
      EXPECT_EQ(notes[f.first], "this " + std::string(f.second == "lost-cancel" ? "lost cancel" : "blind wait") +
                                    " happened " + times(g->second) + " in this run")
          << r.out;
  }
}

TEST(LintTrace, FindingsTheRunDidNotReachSaySo) {
  // The fixed program's run against the buggy source: the leaks are not in the trace.
  fs::path trace = record("lost-cancel", "fixed");
  if (trace.empty()) GTEST_SKIP() << "the samples are not built";
  Result r = lint_with_trace("lost-cancel", "buggy", trace);
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  std::set<LineRule> statics = findings(r.out, "buggy.cpp");
  std::map<int, std::string> notes = runtime_notes(r.out, "buggy.cpp");
  ASSERT_FALSE(statics.empty());
  for (const LineRule& f : statics)
    EXPECT_EQ(notes[f.first], "not reached in this run (no " + f.second + " at this line in the trace)") << r.out;
}

TEST(LintTrace, RuntimeFindingsTheLinterCannotSeeAreListed) {
  // pipeline: its stuck waits are runtime-only (no static rule); ci-job: a
  // blind wait in a function that takes no context.
  for (const char* sample : {"pipeline", "ci-job"}) {
    fs::path trace = record(sample, "buggy");
    if (trace.empty()) GTEST_SKIP() << "the samples are not built";
    Result r = lint_with_trace(sample, "buggy", trace);
    ASSERT_NE(r.exit_code, 2) << r.err;
    std::set<LineRule> statics = findings(r.out, "buggy.cpp");
    std::map<LineRule, int> want;
    for (const auto& [key, n] : golden_counts(sample, "buggy"))
      if (!statics.count(key)) want[key] = n;
    ASSERT_FALSE(want.empty()) << sample;
    EXPECT_EQ(runtime_only(r.out, "buggy.cpp"), want) << sample << "\n" << r.out;
  }
}

TEST(LintTrace, SarifCarriesTheRuntimeEvidence) {
  fs::path trace = record("pipeline", "buggy");
  if (trace.empty()) GTEST_SKIP() << "the samples are not built";
  fs::path dir = temp_dir("trace-sarif");
  Result r = lint_with_trace("lost-cancel", "buggy", record("lost-cancel", "buggy"),
                             {"--format", "sarif", "-o", (dir / "lint.sarif").string()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  std::ifstream in(dir / "lint.sarif");
  json log = json::parse(in);
  const json& results = log["runs"][0]["results"];
  ASSERT_FALSE(results.empty());
  for (const json& res : results) {
    ASSERT_TRUE(res.contains("properties")) << res.dump(2);
    EXPECT_GE(res["properties"]["runtimeOccurrences"].get<int>(), 1) << res.dump(2);
    bool has_runtime_note = false;
    for (const json& rel : res["relatedLocations"])
      if (rel["message"]["text"].get<std::string>().find("at run time") != std::string::npos) has_runtime_note = true;
    EXPECT_TRUE(has_runtime_note) << res.dump(2);
  }
  // The pipeline's runtime-only stuck waits come out as notes marked as from the trace.
  Result p = lint_with_trace("pipeline", "buggy", trace, {"--format", "sarif", "-o", (dir / "pipe.sarif").string()});
  ASSERT_NE(p.exit_code, 2) << p.err;
  std::ifstream pin(dir / "pipe.sarif");
  json plog = json::parse(pin);
  int from_trace = 0;
  for (const json& res : plog["runs"][0]["results"])
    if (res.contains("properties") && res["properties"].value("source", "") == "trace") {
      ++from_trace;
      EXPECT_EQ(res["level"], "note");
      EXPECT_EQ(res["ruleId"], "stuck-wait") << res.dump(2);
    }
  EXPECT_GT(from_trace, 0) << plog.dump(2);
  if (fs::exists(CTXSCOPE_SARIF_VALIDATE)) {
    Result v = run({"/bin/bash", CTXSCOPE_SARIF_VALIDATE, CTXSCOPE_SARIF_TOOLS, (dir / "pipe.sarif").string()});
    if (v.exit_code != 3) EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }
}

TEST(LintTrace, AnUnreadableTraceIsAUsageError) {
  fs::path bad = temp_dir("bad-trace") / "not-a-trace.db";
  std::ofstream(bad) << "this is not SQLite";
  Result r = lint_with_trace("lost-cancel", "buggy", bad);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot analyse the trace"), std::string::npos) << r.err;
  Result missing = lint_with_trace("lost-cancel", "buggy", bad.parent_path() / "absent.db");
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
}

}  // namespace
}  // namespace ctxscope::lint::test
