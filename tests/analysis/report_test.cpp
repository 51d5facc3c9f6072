// Report formats (text, JSON, SARIF 2.1.0 against the official schema, JUnit),
// suppressions, and the CLI's exit codes, hostile-file handling, stats and export.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <map>
#include <set>
#include <sqlite3.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <regex>

#include "ctxscope/analysis/stats.hpp"
#include "ctxscope/analysis/suppressions.hpp"
#include "hostile_corpus.hpp"
#include "scenario_traces.hpp"
#include "test_util.hpp"

namespace ctxscope::testing {
namespace {

using analysis::Finding;
using analysis::Report;
using analysis::Severity;

// Every rule, stacks, ancestry, run warnings, odd paths: the worst case for formats.
Report sample_report() {
  Report r;
  r.run.trace_path = "/tmp/my traces/run.db";
  r.run.complete = false;
  r.warnings.push_back("the run ended abnormally (no end marker)");
  r.suppressed = 2;
  r.suppressed_by_rule["late-exit"] = 2;
  const char* rules[] = {"lost-cancel", "blind-wait", "stuck-wait", "use-after-cancel", "late-exit"};
  int line = 10;
  for (const char* rule : rules) {
    Finding f;
    f.rule = rule;
    f.severity = (std::string(rule) == "late-exit" || std::string(rule) == "use-after-cancel") ? Severity::warning
                                                                                              : Severity::error;
    f.subkind = std::string(rule) == "lost-cancel" ? "dropped" : "";
    f.message = std::string(rule) + " <&> \"quoted\" 'x' µs";
    f.site = {line % 20 == 0 ? "src/rel path.cpp" : "/abs/src/file.cpp", line, 3, "void f(int)"};
    f.context = 1000 + line;
    f.ancestry = {{1, "background", {}, -1, ""}, {f.context, "timeout", {"/abs/src/ctx.cpp", 5, 7, "g"}, 20, "deadline"}};
    f.thread = 2;
    f.thread_name = "worker";
    f.stack = {"f(int) at /abs/src/file.cpp:10", "main"};
    f.times = {{"created", 1}, {"context done", 20}};
    r.findings.push_back(f);
    line += 10;
  }
  return r;
}

TEST(ReportText, IsCompilerStyleWithRuleTagsAndASummary) {
  const std::string t = analysis::to_text(sample_report());
  std::regex diag(R"(^(/abs/src/file\.cpp|src/rel path\.cpp):\d+:3: (error|warning): .* \[ctxscope-[a-z-]+\]$)");
  int diags = 0;
  std::istringstream in(t);
  for (std::string line; std::getline(in, line);)
    if (line.find("[ctxscope-") != std::string::npos && line.find("[ctxscope-run]") == std::string::npos) {
      EXPECT_TRUE(std::regex_match(line, diag)) << line;
      ++diags;
    }
  EXPECT_EQ(diags, 5);
  EXPECT_NE(t.find("/abs/src/ctx.cpp:5:7: note: context ctx#1010 (timeout) created here"), std::string::npos) << t;
  EXPECT_NE(t.find("ctxscope: 5 findings (3 errors, 2 warnings), 2 suppressed (late-exit: 2) in /tmp/my traces/run.db"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("warning: the run ended abnormally"), std::string::npos);
}

TEST(ReportJson, CarriesSummaryRunAndEveryFindingField) {
  auto j = nlohmann::json::parse(analysis::to_json(sample_report()));
  EXPECT_EQ(j["summary"]["findings"], 5);
  EXPECT_EQ(j["summary"]["errors"], 3);
  EXPECT_EQ(j["summary"]["suppressed"], 2);
  EXPECT_EQ(j["run"]["complete"], false);
  const auto& f = j["findings"][0];
  for (const char* k : {"rule", "subkind", "severity", "message", "site", "context", "ancestry", "thread",
                        "thread_name", "wait", "stack", "times"})
    EXPECT_TRUE(f.contains(k)) << k;
  EXPECT_EQ(f["ancestry"][1]["site"]["line"], 5);
}

TEST(ReportSarif, ValidatesAgainstTheOfficialSarif210Schema) {
  const auto dir = test_dir();
  write_file(dir / "full.sarif", analysis::to_sarif(sample_report()));
  Report empty;
  write_file(dir / "empty.sarif", analysis::to_sarif(empty));
  const auto r = run_cmd(std::string("bash '") + CTXSCOPE_SARIF_VALIDATE + "' '" + CTXSCOPE_SARIF_TOOLS + "' '" +
                             (dir / "full.sarif").string() + "' '" + (dir / "empty.sarif").string() + "'",
                         dir);
  if (r.code == 3) GTEST_SKIP() << "SARIF schema tooling unavailable: " << r.err;
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("full.sarif: valid SARIF 2.1.0"), std::string::npos) << r.out;
}

TEST(ReportSarif, TheValidatorRejectsAnInvalidLog) {
  // Proves the validation test can fail: a log with a bad level.
  const auto dir = test_dir();
  auto j = nlohmann::json::parse(analysis::to_sarif(sample_report()));
  j["runs"][0]["results"][0]["level"] = "fatal";
  write_file(dir / "bad.sarif", j.dump());
  const auto r = run_cmd(std::string("bash '") + CTXSCOPE_SARIF_VALIDATE + "' '" + CTXSCOPE_SARIF_TOOLS + "' '" +
                             (dir / "bad.sarif").string() + "'",
                         dir);
  if (r.code == 3) GTEST_SKIP() << "SARIF schema tooling unavailable: " << r.err;
  EXPECT_EQ(r.code, 1) << r.out << r.err;
}

TEST(ReportSarif, UsesFileUrisAndOneRuleEntryPerCatalogueRule) {
  auto j = nlohmann::json::parse(analysis::to_sarif(sample_report()));
  EXPECT_EQ(j["version"], "2.1.0");
  const auto& run = j["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["rules"].size(), 5u);
  EXPECT_EQ(run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "file:///abs/src/file.cpp");
  EXPECT_EQ(run["results"][1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "src/rel%20path.cpp");
  EXPECT_EQ(run["results"][1]["ruleId"], "blind-wait");
  EXPECT_EQ(run["results"][1]["ruleIndex"], 1);
}

TEST(ReportJunit, IsWellFormedXmlWithOneFailedTestcasePerFinding) {
  const auto dir = test_dir();
  const std::string x = analysis::to_junit(sample_report());
  write_file(dir / "r.xml", x);
  const auto r = run_cmd("xmllint --noout '" + (dir / "r.xml").string() + "'", dir);
  if (r.code == 127) GTEST_SKIP() << "xmllint not installed";
  EXPECT_EQ(r.code, 0) << r.err;
  auto count = [&](const std::string& s) {
    std::size_t n = 0;
    for (auto p = x.find(s); p != std::string::npos; p = x.find(s, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<testcase "), 5u);
  EXPECT_EQ(count("<failure "), 5u);
  EXPECT_NE(x.find("tests=\"5\" failures=\"5\""), std::string::npos);
  EXPECT_NE(x.find("&lt;&amp;&gt; &quot;quoted&quot;"), std::string::npos);
  // No findings: one passing test case, so dashboards show a green run.
  const std::string clean = analysis::to_junit(Report{});
  EXPECT_NE(clean.find("<testcase classname=\"ctxscope\" name=\"no findings\"/>"), std::string::npos);
}

// ---- suppressions -----------------------------------------------------------

TEST(Suppressions, MatchRuleAndSiteGlobsLikeLeakSanitizer) {
  analysis::Suppressions s;
  std::string err;
  ASSERT_TRUE(s.parse("# comment\n\nlost-cancel:legacy/*.cpp\nblind-wait:Poller::run\n*:^third_party/\n"
                      "stuck-wait:file.cpp:40$\n",
                      "supp.txt", &err))
      << err;
  Finding f;
  f.rule = "lost-cancel";
  f.site = {"/src/legacy/old.cpp", 3, 0, "void x()"};
  EXPECT_TRUE(s.matches(f));
  f.rule = "blind-wait";
  EXPECT_FALSE(s.matches(f));
  f.site.function = "void Poller::run()";
  EXPECT_TRUE(s.matches(f));
  f = {};
  f.rule = "late-exit";
  f.site = {"third_party/lib.cpp", 1, 0, ""};
  EXPECT_TRUE(s.matches(f));
  f.site = {"src/third_party/lib.cpp", 1, 0, ""};
  EXPECT_FALSE(s.matches(f)) << "^ anchors at the start";
  f.rule = "stuck-wait";
  f.site = {"a/file.cpp", 40, 0, ""};
  EXPECT_TRUE(s.matches(f));
  f.site.line = 400;
  EXPECT_FALSE(s.matches(f)) << "$ anchors at the end";
}

TEST(Suppressions, MalformedLinesAreOneLineErrors) {
  analysis::Suppressions s;
  std::string err;
  EXPECT_FALSE(s.parse("lost-cancel:a\nnonsense\n", "supp.txt", &err));
  EXPECT_EQ(err, "supp.txt:2: expected 'rule:site-glob', got 'nonsense'");
  EXPECT_FALSE(s.parse("leak:foo\n", "supp.txt", &err));
  EXPECT_EQ(err, "supp.txt:1: unknown rule 'leak'");
}

// ---- the CLI ------------------------------------------------------------------

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = test_dir();
    fanout = dir / "fanout.db";
    build_fanout(fanout);  // 1 error (blind-wait), 2 warnings (late-exit, lost-cancel released)
  }
  CmdResult ctx(const std::string& args) { return run_cmd(cli() + " " + args, dir); }
  std::filesystem::path dir, fanout;
};

TEST_F(Cli, CheckExitCodeFollowsFailOn) {
  EXPECT_EQ(ctx("check '" + fanout.string() + "'").code, 1);
  EXPECT_EQ(ctx("check '" + fanout.string() + "' --fail-on=error --ignore blind-wait").code, 0);
  EXPECT_EQ(ctx("check '" + fanout.string() + "' --fail-on=warning --ignore blind-wait").code, 1);
  EXPECT_EQ(ctx("check '" + fanout.string() + "' --fail-on=never").code, 0);
  EXPECT_EQ(ctx("analyze '" + fanout.string() + "'").code, 0);
  const auto bad = ctx("check '" + fanout.string() + "' --fail-on=sometimes");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--fail-on"), std::string::npos) << bad.err;
  EXPECT_EQ(ctx("frobnicate").code, 2);
  EXPECT_EQ(ctx("check").code, 2);
}

TEST_F(Cli, SuppressionsFileAndIgnoreAreCountedInTheReport) {
  write_file(dir / "supp.txt", "blind-wait:synthetic/fanout-timeout.cpp:60\n");
  auto r = ctx("check '" + fanout.string() + "' --suppress '" + (dir / "supp.txt").string() + "' --ignore late-exit");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 finding (0 errors, 1 warning), 2 suppressed (blind-wait: 1, late-exit: 1)"),
            std::string::npos)
      << r.out;
  write_file(dir / "bad.txt", "oops\n");
  r = ctx("check '" + fanout.string() + "' --suppress '" + (dir / "bad.txt").string() + "'");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "ctxscope: " + (dir / "bad.txt").string() + ":1: expected 'rule:site-glob', got 'oops'\n");
}

TEST_F(Cli, EveryFormatIsSelectableAndOutputCanGoToAFile) {
  auto r = ctx("analyze '" + fanout.string() + "' --format json");
  EXPECT_EQ(nlohmann::json::parse(r.out)["summary"]["findings"], 3);
  r = ctx("analyze '" + fanout.string() + "' --format sarif -o '" + (dir / "o.sarif").string() + "'");
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(nlohmann::json::parse(read_file(dir / "o.sarif"))["version"], "2.1.0");
  r = ctx("analyze '" + fanout.string() + "' --format junit");
  EXPECT_NE(r.out.find("<testsuites"), std::string::npos);
}

TEST_F(Cli, IncompleteRunIsAnalysedWithAWarningOnStderr) {
  const auto p = dir / "incomplete.db";
  {
    TraceBuilder b(p, 10 * kMs, /*complete=*/false);
  }
  // The gate does not pass a run it saw only part of (issue 18, item 5)...
  const auto r = ctx("check '" + p.string() + "'");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("warning: the run ended abnormally"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("incomplete run: findings may be missing"), std::string::npos) << r.err;
  // ...unless told to gate on what was recorded.
  const auto a = ctx("check --allow-incomplete '" + p.string() + "'");
  EXPECT_EQ(a.code, 0);
  EXPECT_NE(a.err.find("warning: the run ended abnormally"), std::string::npos) << a.err;
}

// Each hostile file: exit 2 and exactly one line on stderr naming the file.
TEST_F(Cli, HostileFilesGiveOneLineErrorsAndExit2) {
  const auto cases = hostile_corpus(dir);
  for (const auto& [what, p] : cases) {
    for (const char* sub : {"check", "analyze", "stats", "export"}) {
      const auto r = ctx(std::string(sub) + " '" + p.string() + "'");
      EXPECT_EQ(r.code, 2) << what << " / " << sub << ": " << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << what << " / " << sub << ": " << r.err;
      EXPECT_EQ(r.err.rfind("ctxscope: " + p.string() + ": ", 0), 0u) << what << " / " << sub << ": " << r.err;
      EXPECT_TRUE(r.out.empty()) << what << " / " << sub;
    }
  }
}

TEST_F(Cli, StatsReportsCountsDepthAndCancelLatency) {
  const auto p = dir / "stats.db";
  {
    TraceBuilder b(p, 100 * kMs);
    b.ctx({.id = 10, .created_ns = 0, .cancel_ns = 10 * kMs, .cancel_reason = "explicit",
           .cancel_called_ns = 10 * kMs});
    b.ctx({.id = 11, .parent = 10, .kind = "timeout", .created_ns = 0, .cancel_ns = 10 * kMs,
           .cancel_reason = "parent", .cancel_origin = 10, .cancel_called_ns = 20 * kMs});
    b.ctx({.id = 12, .parent = 11, .kind = "value", .created_ns = 0});
    for (int i = 0; i < 10; ++i)
      b.wait({.id = 100 + i, .thread = 1, .done_ctx = 11, .begin_ns = 1 * kMs, .end_ns = 10 * kMs + (i + 1) * 1000,
              .outcome = "done"});
  }
  const auto r = ctx("stats --format json '" + p.string() + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["contexts"], 5);  // background, todo + 3
  EXPECT_EQ(j["contexts_by_kind"]["timeout"], 1);
  EXPECT_EQ(j["cancel_reasons"]["parent"], 1);
  // The trace stores codes; stats shows their names.
  EXPECT_EQ(j["contexts_by_kind"]["background"], 1);
  EXPECT_EQ(j["contexts_by_kind"]["value"], 1);
  EXPECT_EQ(j["cancel_reasons"]["explicit"], 1);
  EXPECT_EQ(j["cancel_reasons"]["never"], 3);
  EXPECT_EQ(j["waits_by_object"]["chan_recv"], 10);
  EXPECT_EQ(j["wait_outcomes"]["done"], 10);
  EXPECT_EQ(j["max_depth"], 3);
  EXPECT_EQ(j["cancel_latency_ns"]["samples"], 10);
  EXPECT_EQ(j["cancel_latency_ns"]["p50"], 6000);
  EXPECT_EQ(j["cancel_latency_ns"]["max"], 10000);
  const auto t = ctx("stats '" + p.string() + "'");
  EXPECT_NE(t.out.find("cancel latency (done -> wake-up, 10 waits): p50 6 µs"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("waits by object:  chan_recv 10"), std::string::npos) << t.out;
}

TEST_F(Cli, ChromeExportHasThreadTracksWaitSlicesContextSpansAndCancelFlows) {
  const auto p = dir / "hpc.db";
  build_premature_cancel(p);
  const auto r = ctx("export '" + p.string() + "' --format chrome");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  int threads = 0, slices = 0, begins = 0, ends = 0, flow_out = 0, flow_in = 0;
  for (const auto& e : j["traceEvents"]) {
    const std::string ph = e["ph"];
    if (ph == "M" && e["name"] == "thread_name") ++threads;
    if (ph == "X" && e["cat"] == "wait") ++slices;
    if (ph == "b") ++begins;
    if (ph == "e") ++ends;
    if (e.contains("flow_out")) ++flow_out;
    if (e.contains("flow_in")) ++flow_in;
    // Enumerations by name, never as bare codes.
    if (ph == "X" && e["cat"] == "wait") {
      EXPECT_EQ(e["name"], "chan_recv response body");
      EXPECT_EQ(e["args"]["outcome"], "done");
    }
    if (ph == "b") {
      const std::string name = e["name"];  // "ctx#1025 timeout"
      EXPECT_TRUE(name.rfind(' ') != std::string::npos && std::isalpha(static_cast<unsigned char>(name.back())))
          << name;
    }
    if (ph == "e" && e["args"]["done"] != "never") {
      EXPECT_TRUE(e["args"]["done"] == "explicit" || e["args"]["done"] == "parent") << e;
    }
  }
  EXPECT_EQ(threads, 1);
  EXPECT_EQ(slices, 1);
  EXPECT_EQ(begins, 3);
  EXPECT_EQ(ends, 3);
  EXPECT_EQ(flow_out, 1);
  EXPECT_EQ(flow_in, 1);
}

// Every flow of the export runs forward in time: from the cancel's marker to
// the marker where the wait it woke ended; every event has the fields the
// Trace Event format requires, and every thread is named (the runtime's own
// timer included).
TEST_F(Cli, ChromeExportFlowsRunForwardFromTheCancelToTheWakeUp) {
  const auto db = dir / "fixed-ci.db";
  const auto rr = run_cmd("CTXSCOPE_TRACE='" + db.string() + "' timeout -k 5 60 '" + std::string(CTXSCOPE_SAMPLE_ci_job) +
                              "' --mode=fixed",
                          dir);
  ASSERT_EQ(rr.code, 0) << rr.err;
  const auto r = ctx("export '" + db.string() + "' --format chrome");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::map<std::string, double> out_ts, in_ts;
  std::set<std::string> names;
  for (const auto& e : j["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph") && e.contains("pid") && e.contains("tid")) << e;
    if (e["ph"] != "M") {
      ASSERT_TRUE(e.contains("ts")) << e;
    }
    if (e["ph"] == "M" && e["name"] == "thread_name") names.insert(e["args"]["name"].get<std::string>());
    if (e.contains("flow_out")) out_ts[e["bind_id"]] = e["ts"].get<double>();
    if (e.contains("flow_in")) in_ts[e["bind_id"]] = e["ts"].get<double>();
  }
  ASSERT_FALSE(out_ts.empty()) << "the fixed waiter is woken by the deadline's cancel";
  EXPECT_EQ(out_ts.size(), in_ts.size());
  for (const auto& [id, t] : out_ts) {
    ASSERT_TRUE(in_ts.count(id)) << id;
    EXPECT_LE(t, in_ts[id]) << "flow " << id << " runs backwards";
  }
  EXPECT_TRUE(names.count("ctxscope-timer")) << "the timer thread is named";
  for (const auto& n : names) EXPECT_EQ(n.rfind("thread#", 0), std::string::npos) << n;
}

// ---- terminal output (issue 17 item 4) --------------------------------------

TEST_F(Cli, ColourOnlyWhenAskedOrOnATerminalAndQuietIsTheSummaryLine) {
  const auto p = dir / "ci.db";
  build_ci_job(p);
  auto r = ctx("analyze --color always '" + p.string() + "'");
  EXPECT_NE(r.out.find("\033[1;31merror:\033[0m"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\033[1m"), std::string::npos);
  // Not a terminal (a pipe here): no colour by default, nor with NO_COLOR or never.
  r = ctx("analyze '" + p.string() + "'");
  EXPECT_EQ(r.out.find('\033'), std::string::npos) << r.out;
  r = run_cmd("NO_COLOR=1 " + cli() + " analyze --color auto '" + p.string() + "'", dir);
  EXPECT_EQ(r.out.find('\033'), std::string::npos);
  r = ctx("analyze --color never '" + p.string() + "'");
  EXPECT_EQ(r.out.find('\033'), std::string::npos);
  // --quiet: one line, the summary; the gate's exit code is unchanged.
  r = ctx("check --quiet '" + p.string() + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_EQ(r.out.rfind("ctxscope: 1 finding (1 error, 0 warnings)", 0), 0u) << r.out;
  // Notes under a diagnostic are wrapped to 100 columns; the diagnostic line is not.
  r = ctx("analyze '" + p.string() + "'");
  std::istringstream lines(r.out);
  for (std::string l; std::getline(lines, l);)
    if (l.rfind("    ", 0) == 0) {
      EXPECT_LE(l.size(), 104u) << l;  // bytes: the arrows are 3 each
    }
}

// ---- paths relative to a source root (issue 17 item 1) ---------------------

TEST(SourceRoot, DefaultIsTheGitTopLevelAboveTheSourcesElseTheCurrentDirectory) {
  const auto dir = test_dir();
  std::filesystem::create_directories(dir / "repo" / ".git");
  std::filesystem::create_directories(dir / "repo" / "src" / "deep");
  analysis::Report r;
  analysis::Finding f;
  f.rule = "lost-cancel";
  f.site = {(dir / "repo" / "src" / "deep" / "a.cpp").string(), 3, 1, "f"};
  f.ancestry.push_back({1, "background", {}, -1, ""});
  f.ancestry.push_back({9, "cancel", {(dir / "repo" / "src" / "b.cpp").string(), 7, 1, "g"}, -1, ""});
  r.findings.push_back(f);
  EXPECT_EQ(analysis::default_source_root(r), (dir / "repo").string());
  analysis::relativize_paths(r, (dir / "repo").string() + "/");
  EXPECT_EQ(r.findings[0].site.file, "src/deep/a.cpp");
  EXPECT_EQ(r.findings[0].ancestry[1].site.file, "src/b.cpp");
  EXPECT_EQ(r.source_root, (dir / "repo").string());
  // Outside the root: left absolute.
  analysis::Report o;
  f.site.file = "/usr/include/x.h";
  o.findings.push_back(f);
  analysis::relativize_paths(o, (dir / "repo").string());
  EXPECT_EQ(o.findings[0].site.file, "/usr/include/x.h");
  // No repository above: the current directory.
  analysis::Report none;
  f.site.file = "/nonexistent-ctxscope-dir/a.cpp";
  none.findings.push_back(f);
  EXPECT_EQ(analysis::default_source_root(none), std::filesystem::current_path().string());
}

#ifdef CTXSCOPE_SAMPLE_ci_job
TEST_F(Cli, PathsAreRelativeToTheSourceRootInEveryFormatAndSuppressionsMatchThem) {
  const auto db = dir / "ci.db";
  ASSERT_EQ(run_cmd("CTXSCOPE_TRACE='" + db.string() + "' timeout -k 5 60 '" + std::string(CTXSCOPE_SAMPLE_ci_job) +
                        "' --mode=buggy",
                    dir)
                .code,
            0);
  const std::string root = std::string(" --source-root '") + CTXSCOPE_SOURCE_DIR + "' '" + db.string() + "'";
  auto r = ctx("analyze" + root);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("samples/ci-job/buggy.cpp:32:", 0), 0u) << r.out;
  r = ctx("analyze --format json" + root);
  EXPECT_NE(r.out.find("\"file\": \"samples/ci-job/buggy.cpp\""), std::string::npos) << r.out;
  r = ctx("analyze --format junit" + root);
  EXPECT_NE(r.out.find("file=\"samples/ci-job/buggy.cpp\""), std::string::npos) << r.out;
  r = ctx("analyze --format sarif" + root);
  auto j = nlohmann::json::parse(r.out);
  const auto& run = j["runs"][0];
  EXPECT_EQ(run["originalUriBaseIds"]["%SRCROOT%"]["uri"].get<std::string>().rfind("file:///", 0), 0u);
  const auto& loc = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
  EXPECT_EQ(loc["uri"], "samples/ci-job/buggy.cpp");
  EXPECT_EQ(loc["uriBaseId"], "%SRCROOT%");
  // A suppression written against the relative path matches.
  { std::ofstream(dir / "rel.supp") << "blind-wait:samples/ci-job/*\n"; }
  r = ctx("check --suppress '" + (dir / "rel.supp").string() + "'" + root);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 suppressed"), std::string::npos) << r.out;
  // 'none': the paths as recorded.
  r = ctx("analyze --source-root none '" + db.string() + "'");
  EXPECT_EQ(r.out.rfind(std::string(CTXSCOPE_SOURCE_DIR) + "/samples/ci-job/buggy.cpp:32:", 0), 0u) << r.out;
}
#endif

}  // namespace
}  // namespace ctxscope::testing
