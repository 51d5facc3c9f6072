// Drives the meta suite (tests/probe/meta/leaky_suite.cpp, linked with
// ctxscope::gtest_main) and asserts exactly which of its tests fail, with which
// rule and at which line; that the binary exits non-zero; that ignores, warn
// mode and shuffling behave.  Also verify_none() and ignore_current() in-process.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"
#include "ctxscope/probe.hpp"
#include <nlohmann/json.hpp>

namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string tmp(const std::string& name) {
  const char* d = std::getenv("CTXSCOPE_TEST_TMP");
  std::string dir = d ? d : "/tmp";
  std::system(("mkdir -p '" + dir + "'").c_str());
  return dir + "/probe-" + name;
}

// Line of each `// LEAK(tag)` marker of the meta suite, by tag (several lines per tag).
std::multimap<std::string, int> markers() {
  std::multimap<std::string, int> m;
  std::ifstream in(CTXSCOPE_PROBE_META_SOURCE);
  std::string line;
  static const std::regex re(R"re(// LEAK\(([a-z-]+)\))re");
  for (int n = 1; std::getline(in, line); ++n) {
    std::smatch mt;
    if (std::regex_search(line, mt, re)) m.emplace(mt[1], n);
  }
  return m;
}
int marker(const std::string& tag, int nth = 0) {
  auto m = markers();
  auto [b, e] = m.equal_range(tag);
  for (int i = 0; b != e; ++b, ++i)
    if (i == nth) return b->second;
  ADD_FAILURE() << "no marker LEAK(" << tag << ") #" << nth;
  return -1;
}

struct MetaRun {
  int exit_code = -1;
  std::string out;
  std::map<std::string, std::string> failures;  // "Suite.Name" -> failure text ("" key absent: passed)
  std::set<std::string> ran;
};

MetaRun run_meta(const std::string& name, const std::string& env, const std::string& args = "",
                 const std::string& exe = CTXSCOPE_PROBE_META) {
  const std::string xml = tmp(name + ".xml"), out = tmp(name + ".out");
  const std::string cmd = env + " CTXSCOPE_PROBE_GRACE_MS=${CTXSCOPE_PROBE_GRACE_MS:-1000} '" + exe +
                          "' --gtest_output=xml:'" + xml + "' " + args + " > '" + out + "' 2>&1";
  MetaRun r;
  const int st = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = slurp(out);
  const std::string x = slurp(xml);
  static const std::regex tc(R"re(<testcase name="([^"]*)"[^>]*classname="([^"]*)"[^>]*?(/?)>)re");
  for (auto it = std::sregex_iterator(x.begin(), x.end(), tc); it != std::sregex_iterator(); ++it) {
    const std::string id = (*it)[2].str() + "." + (*it)[1].str();
    r.ran.insert(id);
    if ((*it)[3] == "/") continue;
    const std::size_t body = static_cast<std::size_t>(it->position() + it->length());
    const std::string rest = x.substr(body, x.find("</testcase>", body) - body);
    if (rest.find("<failure") != std::string::npos) r.failures[id] = rest;
  }
  return r;
}

bool has(const std::string& text, const std::string& rule, int line) {
  return text.find("[ctxscope-" + rule + "]") != std::string::npos &&
         text.find("leaky_suite.cpp:" + std::to_string(line)) != std::string::npos;
}

const std::set<std::string> kLeaky = {"Leaky.DroppedCancel",       "Leaky.HeldButUncalledCancel",
                                      "Leaky.BlindReceive",        "Leaky.ThreadStillRunning",
                                      "Leaky.IgnoredByFunction",   "WorkerFixture.WorkerIgnoresTheFixturesContext",
                                      "Leaky.FailsOnItsOwnAndLeaks"};

std::set<std::string> keys(const std::map<std::string, std::string>& m) {
  std::set<std::string> s;
  for (const auto& [k, v] : m) s.insert(k);
  return s;
}

void expect_verdicts(const MetaRun& r) {
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.ran.size(), 12u) << r.out;
  EXPECT_EQ(keys(r.failures), kLeaky) << r.out;
  auto f = [&](const std::string& t) { return r.failures.count(t) ? r.failures.at(t) : std::string(); };
  EXPECT_TRUE(has(f("Leaky.DroppedCancel"), "lost-cancel", marker("lost-cancel", 0))) << f("Leaky.DroppedCancel");
  // Stacks are on by default: the message names the caller that created the
  // context, the test's own body at the leak's line (the probe's and the
  // runtime's frames stripped).
  EXPECT_NE(f("Leaky.DroppedCancel")
                .find("creation stack:\n    #0 Leaky_DroppedCancel_Test::TestBody() at "),
            std::string::npos)
      << f("Leaky.DroppedCancel");
  EXPECT_NE(f("Leaky.DroppedCancel").find("TestBody() at " + std::string(CTXSCOPE_PROBE_META_SOURCE) + ":" +
                                         std::to_string(marker("lost-cancel", 0)) + "\n"),
            std::string::npos)
      << f("Leaky.DroppedCancel");
  EXPECT_TRUE(has(f("Leaky.HeldButUncalledCancel"), "lost-cancel", marker("lost-cancel", 1)))
      << f("Leaky.HeldButUncalledCancel");
  EXPECT_TRUE(has(f("Leaky.BlindReceive"), "blind-wait", marker("blind-wait", 0))) << f("Leaky.BlindReceive");
  EXPECT_NE(f("Leaky.BlindReceive").find("blind-receiver"), std::string::npos);
  EXPECT_TRUE(has(f("Leaky.ThreadStillRunning"), "late-exit", marker("late-exit", 0))) << f("Leaky.ThreadStillRunning");
  EXPECT_TRUE(has(f("Leaky.IgnoredByFunction"), "lost-cancel", marker("ignored", 0))) << f("Leaky.IgnoredByFunction");
  EXPECT_TRUE(has(f("WorkerFixture.WorkerIgnoresTheFixturesContext"), "blind-wait", marker("blind-wait", 1)))
      << f("WorkerFixture.WorkerIgnoresTheFixturesContext");
  EXPECT_TRUE(has(f("Leaky.FailsOnItsOwnAndLeaks"), "lost-cancel", marker("lost-cancel", 2)));
  // Each leak is reported under its own test only: the still-blocked receiver
  // of BlindReceive is never blamed on the tests after it.
  for (const auto& [t, text] : r.failures) {
    if (t != "Leaky.BlindReceive") {
      EXPECT_EQ(text.find("blind-receiver"), std::string::npos) << t;
    }
  }
  // The suite fixture's SetUpTestSuite leak, checked after the suite.
  EXPECT_NE(r.out.find("SuiteOwned (SetUpTestSuite/TearDownTestSuite) leaked"), std::string::npos) << r.out;
  EXPECT_TRUE(has(r.out, "lost-cancel", marker("suite-lost-cancel", 0))) << r.out;
}

}  // namespace

TEST(ProbeMeta, EachLeakFailsItsOwnTestWithRuleAndSite) { expect_verdicts(run_meta("plain", "")); }

TEST(ProbeMeta, ShuffledOrderGivesTheSameVerdicts) {
  expect_verdicts(run_meta("shuffled", "", "--gtest_shuffle --gtest_random_seed=4242"));
}

TEST(ProbeMeta, IgnoresAndTheTestsOwnFailuresAreBothHonoured) {
  const MetaRun r = run_meta("ignores", "CTXSCOPE_META_FAIL=1 CTXSCOPE_PROBE_IGNORE='func:*IgnoredHelper*,thread:parked'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(r.failures.count("Leaky.IgnoredByFunction")) << r.out;
  EXPECT_FALSE(r.failures.count("Leaky.ThreadStillRunning")) << r.out;
  // Checked although the test already failed: both failures are reported.
  ASSERT_TRUE(r.failures.count("Leaky.FailsOnItsOwnAndLeaks")) << r.out;
  const std::string& both = r.failures.at("Leaky.FailsOnItsOwnAndLeaks");
  EXPECT_NE(both.find("the test&apos;s own failure"), std::string::npos) << both;
  EXPECT_NE(both.find("[ctxscope-lost-cancel]"), std::string::npos) << both;
  // A test that fails on its own and leaks nothing gets no leak report.
  ASSERT_TRUE(r.failures.count("Clean.FailsOnItsOwnAndLeaksNothing"));
  EXPECT_EQ(r.failures.at("Clean.FailsOnItsOwnAndLeaksNothing").find("ctxscope probe"), std::string::npos);
}

TEST(ProbeMeta, WarnModeReportsWithoutFailingAndOffChecksNothing) {
  const MetaRun warn = run_meta("warn", "CTXSCOPE_PROBE=warn");
  EXPECT_EQ(warn.exit_code, 0) << warn.out;
  EXPECT_TRUE(warn.failures.empty());
  EXPECT_NE(warn.out.find("[ctxscope-lost-cancel]"), std::string::npos);
  const MetaRun off = run_meta("off", "CTXSCOPE_PROBE=off");
  EXPECT_EQ(off.exit_code, 0) << off.out;
  EXPECT_EQ(off.out.find("ctxscope probe"), std::string::npos);
}

TEST(ProbeMeta, WritesTheRunWithTestBoundariesWhenCtxscopeTraceIsSet) {
  const std::string db = tmp("traced.db");
  std::remove(db.c_str());
  const MetaRun r = run_meta("traced", "CTXSCOPE_TRACE='" + db + "'", "--gtest_filter='Leaky.DroppedCancel:Clean.*'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(keys(r.failures), std::set<std::string>{"Leaky.DroppedCancel"}) << r.out;
  // The CLI sees the same lost cancel in the file, and the file names the tests.
  const std::string out = tmp("traced.txt");
  std::system(("'" CTXSCOPE_CLI "' analyze '" + db + "' > '" + out + "' 2>&1").c_str());
  const std::string rep = slurp(out);
  EXPECT_TRUE(has(rep, "lost-cancel", marker("lost-cancel", 0))) << rep;
  std::system(("sqlite3 '" + db + "' \"SELECT t.name FROM contexts c JOIN tests t ON t.id = c.test WHERE c.cancel_called_ns IS NULL AND c.kind = 2\" > '" + out + "'").c_str());
  EXPECT_NE(slurp(out).find("Leaky.DroppedCancel"), std::string::npos) << slurp(out);
}

TEST(ProbeMeta, RepeatAndShardingKeepTheVerdicts) {
  // --gtest_repeat: every iteration checks again (scopes are per test run).
  const MetaRun rep = run_meta("repeat", "", "--gtest_repeat=3 --gtest_filter='Leaky.DroppedCancel:Clean.*'");
  EXPECT_NE(rep.exit_code, 0);
  std::size_t n = 0;
  for (std::size_t p = 0; (p = rep.out.find("Leaky.DroppedCancel leaked", p)) != std::string::npos; ++p) ++n;
  EXPECT_EQ(n, 3u) << rep.out;
  EXPECT_EQ(rep.out.find("Clean.AfterALeakyOneWhoseThreadIsStillBlocked leaked"), std::string::npos);
  // Two shards: together, exactly the verdicts of one run.
  std::set<std::string> failed, ran;
  for (int shard = 0; shard < 2; ++shard) {
    const MetaRun r = run_meta("shard" + std::to_string(shard),
                               "GTEST_TOTAL_SHARDS=2 GTEST_SHARD_INDEX=" + std::to_string(shard));
    for (const auto& [t, text] : r.failures) failed.insert(t);
    ran.insert(r.ran.begin(), r.ran.end());
  }
  EXPECT_EQ(failed, kLeaky);
  EXPECT_EQ(ran.size(), 12u);
}

// goleak's VerifyNone / IgnoreCurrent, in this process.
TEST(ProbeInProcess, VerifyNoneReportsWhatIsOutstandingExceptTheBaseline) {
  using namespace ctxscope;
  std::string err;
  ASSERT_TRUE(probe::start(&err)) << err;
  auto [old_ctx, old_cancel] = with_cancel(background());
  probe::ignore_current();
  auto [new_ctx, new_cancel] = with_cancel(background());
  probe::Options o;
  o.grace = std::chrono::milliseconds(0);
  const auto leaks = probe::verify_none(o);
  ASSERT_EQ(leaks.size(), 1u);
  EXPECT_EQ(leaks[0].finding.rule, "lost-cancel");
  EXPECT_EQ(leaks[0].finding.context, new_ctx.id());
  new_cancel();
  old_cancel();
  EXPECT_TRUE(probe::verify_none(o).empty());
}

TEST(ProbeInProcess, AScopedCheckOwnsWhatItsGoThreadsCreate) {
  using namespace ctxscope;
  probe::Options o;
  o.grace = std::chrono::milliseconds(2000);
  std::vector<probe::Leak> leaks;
  {
    probe::ScopedLeakCheck check("InProcess.Scoped", o);
    Chan<int> made(1);
    go(background(), "maker", [made]() mutable {
      auto [c, cancel] = with_cancel(background());
      static CancelFunc keep;
      keep = cancel;  // held, never called
      made.send(background(), 1);
    });
    EXPECT_TRUE(made.recv().has_value());
    leaks = check.finish();
  }
  ASSERT_EQ(leaks.size(), 1u);
  EXPECT_EQ(leaks[0].finding.rule, "lost-cancel");
  EXPECT_EQ(probe::stats().analysed >= 1, true);
}

#ifdef CTXSCOPE_PROBE_SCENARIOS
// The seven scenarios under the probe: fixed modes clean, each buggy mode
// failing with exactly the (rule, site) findings the analyzer reports for the
// sample's own recorded run.
TEST(ProbeScenarios, FixedModesAreCleanAndBuggyModesFailWithTheAnalyzersFindings) {
  // ci-job's job-runner and fanout-timeout's log sources simulate external
  // systems that run their course in both modes (the fixed code stops
  // listening; the simulated system does not stop): ignored by name, as a user
  // ignores helper threads they do not own.
  const MetaRun r = run_meta("scenarios", "CTXSCOPE_PROBE_IGNORE='thread:job-runner,thread:log-source-*'", "",
                             CTXSCOPE_PROBE_SCENARIOS);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.ran.size(), 14u) << r.out;
  static const std::regex finding_re(R"re((samples/[^:\s]+):(\d+):\d+: \w+: [^\n]*?\[ctxscope-([a-z-]+)\])re");
  for (const char* s : {"ci-job", "fanout-timeout", "first-response", "http-premature-cancel", "lost-cancel", "pipeline",
                        "propagation-tree"}) {
    std::string id = s;
    for (char& c : id)
      if (c == '-') c = '_';
    EXPECT_FALSE(r.failures.count("Scenario." + id + "_fixed")) << s;
    std::multiset<std::string> want, got;
    const auto golden = nlohmann::json::parse(slurp(std::string(CTXSCOPE_GOLDEN_DIR) + "/recorded/" + s + ".buggy.json"));
    for (const auto& f : golden["findings"]) want.insert(f["rule"].get<std::string>() + " " + f["site"].get<std::string>());
    const std::string text = r.failures.count("Scenario." + id + "_buggy") ? r.failures.at("Scenario." + id + "_buggy") : "";
    // Each probe failure appears twice in the XML (message attribute and CDATA): read the CDATA only.
    std::string cdata;
    for (std::size_t p = 0; (p = text.find("<![CDATA[", p)) != std::string::npos;) {
      const std::size_t e = text.find("]]>", p);
      cdata += text.substr(p + 9, e - p - 9) + "\n";
      p = e;
    }
    for (auto it = std::sregex_iterator(cdata.begin(), cdata.end(), finding_re); it != std::sregex_iterator(); ++it)
      got.insert((*it)[3].str() + " " + (*it)[1].str() + ":" + (*it)[2].str());
    EXPECT_EQ(got, want) << s << "\n" << cdata;
  }
}
#endif
