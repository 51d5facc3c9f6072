// End-to-end: each sample runs traced (CTXSCOPE_TRACE), the analyzer reads the
// trace, and the multiset of (rule, file, line) must equal EXACTLY the
// `// trace-expect: rule[ xN][, rule...]` markers of the sample's buggy.cpp;
// fixed mode must report nothing.  Samples absent from the build are skipped.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <tuple>

#include "samples.hpp"
#include "test_util.hpp"

namespace ctxscope::testing {
namespace {

using Key = std::tuple<std::string, std::string, int>;  // rule, file basename, line
using Multiset = std::map<Key, int>;

std::string base(const std::string& p) { return p.substr(p.find_last_of('/') + 1); }

Multiset expected_markers(const std::filesystem::path& buggy_cpp) {
  Multiset m;
  std::ifstream in(buggy_cpp);
  EXPECT_TRUE(in) << "cannot read " << buggy_cpp;
  static const std::regex marker(R"(//\s*trace-expect:\s*(.*)$)");
  static const std::regex item(R"(^\s*([a-z-]+)(?:\s+x(\d+))?\s*$)");
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::smatch mm;
    if (!std::regex_search(line, mm, marker)) continue;
    std::string list = mm[1];
    std::size_t pos = 0;
    while (pos <= list.size()) {
      auto comma = list.find(',', pos);
      std::string one = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      std::smatch im;
      if (std::regex_match(one, im, item))
        m[{im[1], base(buggy_cpp.string()), n}] += im[2].matched ? std::stoi(im[2]) : 1;
      else
        ADD_FAILURE() << buggy_cpp << ":" << n << ": malformed trace-expect item '" << one << "'";
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  return m;
}

std::string show(const Multiset& m) {
  std::string s;
  for (auto& [k, n] : m)
    s += "  " + std::get<0>(k) + " " + std::get<1>(k) + ":" + std::to_string(std::get<2>(k)) +
         (n > 1 ? " x" + std::to_string(n) : "") + "\n";
  return s.empty() ? "  (none)\n" : s;
}

class SampleE2E : public ::testing::TestWithParam<Sample> {
 protected:
  // Runs the sample traced and returns the findings as a multiset.
  Multiset run_and_analyze(const std::string& mode, analysis::Report* out = nullptr) {
    const analysis::Report rep = run_sample_traced(GetParam(), mode, test_dir());
    Multiset got;
    for (const auto& f : rep.findings) got[{f.rule, base(f.site.file), f.site.line}] += 1;
    if (out) *out = rep;
    return got;
  }
};

TEST_P(SampleE2E, BuggyModeReportsExactlyTheMarkedFindings) {
  if (!GetParam().exe) GTEST_SKIP() << "sample-" << GetParam().name << " is not part of this build";
  const auto expected =
      expected_markers(std::filesystem::path(CTXSCOPE_SOURCE_DIR) / "samples" / GetParam().name / "buggy.cpp");
  ASSERT_FALSE(expected.empty()) << "buggy.cpp of " << GetParam().name << " has no trace-expect marker";
  analysis::Report rep;
  const auto got = run_and_analyze("buggy", &rep);
  EXPECT_EQ(got, expected) << "expected:\n" << show(expected) << "got:\n" << show(got) << "report:\n"
                           << analysis::to_text(rep);
}

TEST_P(SampleE2E, FixedModeReportsNothing) {
  if (!GetParam().exe) GTEST_SKIP() << "sample-" << GetParam().name << " is not part of this build";
  analysis::Report rep;
  const auto got = run_and_analyze("fixed", &rep);
  EXPECT_TRUE(got.empty()) << "got:\n" << show(got) << "report:\n" << analysis::to_text(rep);
}

// Stable identity (issue 17 item 3): two recordings of one sample give the
// same fingerprints, unique within each report, and the same JUnit test names
// (CI history tracks a finding across runs by them).
TEST_P(SampleE2E, TwoRunsGiveTheSameFingerprintsAndJUnitNames) {
  if (!GetParam().exe) GTEST_SKIP() << "sample-" << GetParam().name << " is not part of this build";
  std::vector<std::string> fps[2], names[2];
  for (int run = 0; run < 2; ++run) {
    const auto dir = test_dir() / (run ? "b" : "a");
    std::filesystem::create_directories(dir);
    const analysis::Report rep = run_sample_traced(GetParam(), "buggy", dir);
    fps[run] = analysis::fingerprints(rep.findings);
    const std::string junit = analysis::to_junit(rep);
    static const std::regex name_re("<testcase classname=\"[^\"]*\" name=\"([^\"]*)\"");
    for (auto it = std::sregex_iterator(junit.begin(), junit.end(), name_re); it != std::sregex_iterator(); ++it)
      names[run].push_back((*it)[1]);
    std::sort(fps[run].begin(), fps[run].end());
    std::sort(names[run].begin(), names[run].end());
    EXPECT_EQ(std::adjacent_find(fps[run].begin(), fps[run].end()), fps[run].end()) << "a fingerprint repeats";
    for (const auto& n : names[run]) EXPECT_EQ(n.find("ctx#"), std::string::npos) << n;
  }
  EXPECT_FALSE(fps[0].empty());
  EXPECT_EQ(fps[0], fps[1]);
  EXPECT_EQ(names[0], names[1]);
}

// `ctxscope diff` (issue 13): the buggy run against the fixed one lists
// exactly the buggy run's findings as fixed and nothing new (exit 0); the
// other way round they are all new (exit 1, the regression gate).
TEST_P(SampleE2E, DiffOfBuggyAndFixedListsExactlyTheBuggyRunsFindings) {
  if (!GetParam().exe) GTEST_SKIP() << "sample-" << GetParam().name << " is not part of this build";
  const auto dir = test_dir();
  const analysis::Report buggy = run_sample_traced(GetParam(), "buggy", dir);
  const analysis::Report fixed = run_sample_traced(GetParam(), "fixed", dir);
  ASSERT_FALSE(buggy.findings.empty());
  ASSERT_TRUE(fixed.findings.empty());
  auto fps = analysis::fingerprints(buggy.findings);
  std::sort(fps.begin(), fps.end());
  auto listed = [](const nlohmann::json& arr) {
    std::vector<std::string> v;
    for (const auto& f : arr) v.push_back(f["fingerprint"].get<std::string>());
    std::sort(v.begin(), v.end());
    return v;
  };
  const std::string b = (dir / "buggy.db").string(), f = (dir / "fixed.db").string();
  auto r = run_cmd(cli() + " diff --format json '" + b + "' '" + f + "'", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(listed(j["fixed"]), fps);
  EXPECT_TRUE(j["added"].empty()) << r.out;
  EXPECT_TRUE(j["kept"].empty()) << r.out;
  r = run_cmd(cli() + " diff --format json '" + f + "' '" + b + "'", dir);
  const bool errors = buggy.count_at_least(analysis::Severity::error) > 0;
  EXPECT_EQ(r.code, errors ? 1 : 0) << "a new error fails the diff (--fail-on=error, the default)";
  EXPECT_EQ(run_cmd(cli() + " diff --fail-on=note '" + f + "' '" + b + "'", dir).code, 1);
  EXPECT_EQ(run_cmd(cli() + " diff --fail-on=never '" + f + "' '" + b + "'", dir).code, 0);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(listed(j["added"]), fps);
  EXPECT_TRUE(j["fixed"].empty());
  r = run_cmd(cli() + " diff '" + b + "' '" + b + "'", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("0 fixed, 0 new, " + std::to_string(buggy.findings.size()) + " in both"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("contexts by kind, creation function and ancestry (A → B): the same in both"), std::string::npos)
      << r.out;
}

// A bad file on either side is one line naming it, exit 2.
TEST(CliDiff, ABadTraceOnEitherSideIsOneLineAndExit2) {
  const auto dir = test_dir();
  const auto junk = dir / "junk.db";
  std::ofstream(junk) << "not a trace";
  auto r = run_cmd(cli() + " diff '" + junk.string() + "' '" + junk.string() + "'", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(junk.string() + ": not a SQLite database"), std::string::npos) << r.err;
  r = run_cmd(cli() + " diff /nonexistent/a.db /nonexistent/b.db", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/nonexistent/a.db"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Samples, SampleE2E, ::testing::ValuesIn(kSamples),
                         [](const ::testing::TestParamInfo<Sample>& i) {
                           std::string n = i.param.name;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

// The CLI's `run` drives the same flow and gates on --fail-on.
TEST(CliRun, TracesAProgramAnalysesItAndFailsOnFindings) {
  if (!S_ci_job) GTEST_SKIP() << "sample-ci-job is not part of this build";
  const auto dir = test_dir();
  const auto trace = dir / "run.db";
  auto r = run_cmd("timeout -k 5 120 " + cli() + " run --trace '" + trace.string() + "' -- '" + S_ci_job +
                       "' --mode=buggy",
                   dir);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.out.find("buggy.cpp:32:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[ctxscope-blind-wait]"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(trace));
  r = run_cmd("timeout -k 5 120 " + cli() + " run --fail-on=error -- '" + S_ci_job + "' --mode=fixed", dir);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("trace written to"), std::string::npos) << r.err;
}

TEST(CliRun, ProgramThatCannotStartIsAUsageError) {
  const auto dir = test_dir();
  auto r = run_cmd(cli() + " run -- /nonexistent/program", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/nonexistent/program: cannot run"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ctxscope::testing
