// The seven samples: ctxscope-lint reports lost-cancel in buggy.cpp exactly on
// the lines where the dynamic analyzer must (`// trace-expect: lost-cancel`),
// and nothing at all in fixed.cpp; and its findings agree, line by line, with
// the analyzer's on the recorded runs of the samples (the recorded goldens,
// tests/analysis/golden/recorded/<sample>.<mode>.json, kept by
// scripts/regen-goldens.sh), except where documented below.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "LintHarness.h"

namespace ctxscope::lint::test {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> sample_names() {
  std::vector<std::string> names;
  fs::path root = fs::path(CTXSCOPE_SOURCE_DIR) / "samples";
  if (fs::is_directory(root))
    for (const auto& e : fs::directory_iterator(root))
      if (fs::exists(e.path() / "buggy.cpp") || fs::exists(e.path() / "fixed.cpp"))
        names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  if (names.empty()) names.push_back("none_yet");
  return names;
}

Result lint_file(const fs::path& file) {
  std::vector<std::string> argv = {CTXSCOPE_LINT_EXE, file.string(), "--"};
  for (const std::string& a : compile_args()) argv.push_back(a);
  argv.push_back("-I" + file.parent_path().string());
  argv.push_back("-I" CTXSCOPE_SOURCE_DIR "/samples/common");
  return run(argv);
}

class Sample : public ::testing::TestWithParam<std::string> {
 protected:
  fs::path dir() const { return fs::path(CTXSCOPE_SOURCE_DIR) / "samples" / GetParam(); }
};

TEST_P(Sample, BuggyModeReportsLostCancelWhereTheDynamicAnalyzerDoes) {
  fs::path file = dir() / "buggy.cpp";
  if (!fs::exists(file)) GTEST_SKIP() << "no " << file;
  Result r = lint_file(file);
  ASSERT_NE(r.exit_code, 2) << r.err;
  std::set<LineRule> got, all = findings(r.out, "buggy.cpp");
  for (const LineRule& f : all)
    if (f.second == "lost-cancel") got.insert(f);
  std::set<LineRule> want = trace_expectations(file, "lost-cancel");
  EXPECT_EQ(got, want) << file << "\nexpected (trace-expect):\n" << describe(want) << "reported:\n"
                       << describe(got) << "output:\n" << r.out;
}

TEST_P(Sample, FixedModeReportsNothing) {
  fs::path file = dir() / "fixed.cpp";
  if (!fs::exists(file)) GTEST_SKIP() << "no " << file;
  Result r = lint_file(file);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(findings(r.out, "fixed.cpp").empty()) << r.out;
}

// The analyzer's findings in samples/<sample>/<mode>.cpp on the recorded run:
// (line, rule), with repeats (two threads at one line) collapsed.
std::set<LineRule> analyzer_findings(const std::string& sample, const std::string& mode, bool& have) {
  std::ifstream in(fs::path(CTXSCOPE_SOURCE_DIR) / "tests/analysis/golden/recorded" / (sample + "." + mode + ".json"));
  std::set<LineRule> s;
  have = static_cast<bool>(in);
  if (!have) return s;
  nlohmann::json j = nlohmann::json::parse(in);
  const std::string prefix = "samples/" + sample + "/" + mode + ".cpp:";
  for (const auto& f : j["findings"]) {
    std::string site = f["site"].get<std::string>();
    if (site.rfind(prefix, 0) == 0) s.insert({std::stoi(site.substr(prefix.size())), f["rule"].get<std::string>()});
  }
  return s;
}

// Runtime findings of the linter's rules that it cannot see statically (docs/lint.md):
struct Unseen {
  const char* sample;
  int line;
  const char* rule;
  const char* why;
};
constexpr Unseen kUnseen[] = {
    {"ci-job", 32, "blind-wait",
     "the wait is in a function that takes no context; its goroutine's context is known only at run time"},
    {"fanout-timeout", 60, "blind-wait",
     "select() over channel cases without a done case is not in the linter's table of blocking calls"},
};

// A static finding agrees with a runtime one on its line of the same rule; a
// static blind-wait also with a runtime stuck-wait (the context in scope was
// never done in the run, so the analyzer calls the blocked wait stuck).
bool agrees(const LineRule& st, const std::set<LineRule>& runtime) {
  if (runtime.count(st)) return true;
  return st.second == "blind-wait" && runtime.count({st.first, "stuck-wait"});
}

TEST_P(Sample, BuggyModeAgreesWithTheAnalyzerOnTheSameLines) {
  fs::path file = dir() / "buggy.cpp";
  if (!fs::exists(file)) GTEST_SKIP() << "no " << file;
  bool have = false;
  std::set<LineRule> runtime = analyzer_findings(GetParam(), "buggy", have);
  if (!have) GTEST_SKIP() << "no recorded golden for " << GetParam();
  Result r = lint_file(file);
  ASSERT_NE(r.exit_code, 2) << r.err;
  std::set<LineRule> statics = findings(r.out, "buggy.cpp");
  // Every static finding is confirmed by the run.
  for (const LineRule& st : statics)
    EXPECT_TRUE(agrees(st, runtime)) << file << ":" << st.first << ": " << st.second
                                     << " not confirmed by the analyzer on the recorded run\n" << r.out;
  // Every runtime finding of a rule the linter has is found statically, or
  // documented as unseen (and then really is unseen: the list cannot go stale).
  for (const LineRule& rt : runtime) {
    if (rt.second != "lost-cancel" && rt.second != "blind-wait") continue;
    const Unseen* unseen = nullptr;
    for (const Unseen& u : kUnseen)
      if (GetParam() == u.sample && rt.first == u.line && rt.second == u.rule) unseen = &u;
    if (unseen != nullptr)
      EXPECT_FALSE(statics.count(rt)) << "documented as unseen but now found: " << file << ":" << rt.first;
    else
      EXPECT_TRUE(statics.count(rt)) << file << ":" << rt.first << ": the analyzer reports " << rt.second
                                     << ", the linter does not\n" << r.out;
  }
  for (const Unseen& u : kUnseen)
    if (GetParam() == u.sample)
      EXPECT_TRUE(runtime.count({u.line, u.rule})) << "stale exception: the analyzer no longer reports " << u.rule
                                                   << " at " << u.sample << ":" << u.line << " (" << u.why << ")";
}

TEST_P(Sample, FixedModeIsCleanForTheAnalyzerToo) {
  fs::path file = dir() / "fixed.cpp";
  if (!fs::exists(file)) GTEST_SKIP() << "no " << file;
  bool have = false;
  std::set<LineRule> runtime = analyzer_findings(GetParam(), "fixed", have);
  if (!have) GTEST_SKIP() << "no recorded golden for " << GetParam();
  std::ifstream in(fs::path(CTXSCOPE_SOURCE_DIR) / "tests/analysis/golden/recorded" / (GetParam() + ".fixed.json"));
  EXPECT_TRUE(nlohmann::json::parse(in)["findings"].empty()) << "the analyzer reports findings on the fixed run";
  Result r = lint_file(file);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(findings(r.out, "fixed.cpp").empty()) << r.out;
}

INSTANTIATE_TEST_SUITE_P(Samples, Sample, ::testing::ValuesIn(sample_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace ctxscope::lint::test
