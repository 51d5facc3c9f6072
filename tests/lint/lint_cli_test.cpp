// ctxscope-lint's command line: compile databases, bad input, output formats,
// exit codes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "LintHarness.h"

namespace ctxscope::lint::test {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = CTXSCOPE_LINT_FIXTURES;

// A compile_commands.json in `dir` naming `files`.
void write_database(const fs::path& dir, const std::vector<fs::path>& files) {
  nlohmann::json db = nlohmann::json::array();
  for (const fs::path& f : files) {
    std::string cmd = "/usr/bin/c++ -std=c++20 -I" CTXSCOPE_SOURCE_DIR "/runtime/include -I" CTXSCOPE_SOURCE_DIR "/runtime/trace_format/include -O2 -Wall -c " + f.string();
    db.push_back({{"directory", dir.string()}, {"command", cmd}, {"file", f.string()}});
  }
  std::ofstream(dir / "compile_commands.json") << db.dump(2);
}

fs::path write_file(const fs::path& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir / name) << text;
  return dir / name;
}

const char* kLeak =
    "#include <ctxscope/context.hpp>\n"
    "void f(const ctxscope::Context& p) {\n"
    "  ctxscope::with_cancel(p);\n"
    "}\n";

TEST(LintCli, AnalyzesEveryTranslationUnitOfTheDatabaseWhenNoFileIsNamed) {
  fs::path dir = temp_dir("all");
  fs::path a = write_file(dir, "a.cpp", kLeak);
  fs::path b = write_file(dir, "b.cpp", kLeak);
  write_database(dir, {a, b});
  Result r = run({CTXSCOPE_LINT_EXE, "-p", dir.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(findings(r.out, "a.cpp"), (std::set<LineRule>{{3, "lost-cancel"}})) << r.out;
  EXPECT_EQ(findings(r.out, "b.cpp"), (std::set<LineRule>{{3, "lost-cancel"}})) << r.out;
}

TEST(LintCli, FindsTheDatabaseAboveTheFileWithoutDashP) {
  fs::path dir = temp_dir("auto");
  fs::create_directories(dir / "src");
  fs::path a = write_file(dir / "src", "a.cpp", kLeak);
  write_database(dir, {a});
  Result r = run({CTXSCOPE_LINT_EXE, a.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(findings(r.out, "a.cpp"), (std::set<LineRule>{{3, "lost-cancel"}})) << r.out;
}

TEST(LintCli, NoDatabaseIsAUsageErrorNamingWhereItLooked) {
  fs::path dir = temp_dir("nodb");
  Result r = run({CTXSCOPE_LINT_EXE, "-p", dir.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find((dir / "compile_commands.json").string()), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(LintCli, NoDatabaseAboveAFileIsAUsageErrorNamingTheDirectory) {
  fs::path dir = temp_dir("nodb-auto");
  fs::path a = write_file(dir, "a.cpp", kLeak);
  Result r = run({CTXSCOPE_LINT_EXE, a.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(dir.string()), std::string::npos) << r.err;
}

TEST(LintCli, FileMissingFromTheDatabaseIsAnalyzedWithDefaultFlagsAndAWarning) {
  fs::path dir = temp_dir("notindb");
  fs::path listed = write_file(dir, "listed.cpp", "int listed() { return 0; }\n");
  fs::path stray = write_file(dir, "stray.cpp",
                              "#include <thread>\n"
                              "void g() { std::thread t([] {}); t.join(); }\n");
  write_database(dir, {listed});
  Result r = run({CTXSCOPE_LINT_EXE, "-p", dir.string(), stray.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("stray.cpp is not in the compilation database"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("default flags"), std::string::npos) << r.err;
}

TEST(LintCli, FileThatDoesNotParseIsReportedAndTheOthersStillAnalyzed) {
  fs::path dir = temp_dir("broken");
  fs::path broken = write_file(dir, "broken.cpp", "int f( { return }\n");
  fs::path good = write_file(dir, "good.cpp", kLeak);
  write_database(dir, {broken, good});
  Result r = run({CTXSCOPE_LINT_EXE, "-p", dir.string(), broken.string(), good.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("broken.cpp:1:"), std::string::npos) << "compiler errors are shown\n" << r.err;
  EXPECT_NE(r.err.find("broken.cpp: does not compile"), std::string::npos) << r.err;
  EXPECT_EQ(findings(r.out, "good.cpp"), (std::set<LineRule>{{3, "lost-cancel"}})) << r.out;
}

TEST(LintCli, MissingFileIsAnInputError) {
  Result r = run({CTXSCOPE_LINT_EXE, "/nonexistent/ctxscope/x.cpp", "--", "-std=c++20"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/nonexistent/ctxscope/x.cpp: no such file"), std::string::npos) << r.err;
}

TEST(LintCli, UnknownOptionIsAUsageError) {
  Result r = run({CTXSCOPE_LINT_EXE, "--frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
  r = run({CTXSCOPE_LINT_EXE, "--format", "xml", "x.cpp"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(LintCli, CleanCodeExitsZeroWithNoOutput) {
  fs::path dir = temp_dir("clean");
  fs::path a = write_file(dir, "a.cpp",
                          "#include <ctxscope/context.hpp>\n"
                          "void f(const ctxscope::Context& p) {\n"
                          "  auto [ctx, cancel] = ctxscope::with_cancel(p);\n"
                          "  auto guard = ctxscope::defer(cancel);\n"
                          "}\n");
  std::vector<std::string> argv = {CTXSCOPE_LINT_EXE, a.string(), "--"};
  for (const std::string& x : compile_args()) argv.push_back(x);
  Result r = run(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(LintCli, TextFindingNamesFileLineColumnAndRule) {
  fs::path dir = temp_dir("text");
  fs::path a = write_file(dir, "a.cpp", kLeak);
  std::vector<std::string> argv = {CTXSCOPE_LINT_EXE, a.string(), "--"};
  for (const std::string& x : compile_args()) argv.push_back(x);
  Result r = run(argv);
  EXPECT_EQ(r.out.rfind(a.string() + ":3:3: error: the cancel function returned by ctxscope::with_cancel", 0), 0u)
      << r.out;
  EXPECT_NE(r.out.find("[ctxscope-lost-cancel]\n"), std::string::npos) << r.out;
}

TEST(LintCli, SarifCarriesRulesResultsAndTheReturnThatLeaks) {
  std::vector<std::string> argv = {CTXSCOPE_LINT_EXE, "--format", "sarif",
                                   (kFixtures / "lost_cancel_paths.cpp").string(), "--"};
  for (const std::string& x : compile_args()) argv.push_back(x);
  Result r = run(argv);
  ASSERT_EQ(r.exit_code, 1) << r.err;
  nlohmann::json log = nlohmann::json::parse(r.out);
  EXPECT_EQ(log["version"], "2.1.0");
  const auto& run0 = log["runs"][0];
  EXPECT_EQ(run0["tool"]["driver"]["name"], "ctxscope-lint");
  std::set<std::string> rule_ids;
  for (const auto& rule : run0["tool"]["driver"]["rules"]) rule_ids.insert(rule["id"].get<std::string>());
  EXPECT_EQ(rule_ids, (std::set<std::string>{"lost-cancel", "blind-wait"}));
  std::set<LineRule> got;
  bool early_return_named = false;
  for (const auto& res : run0["results"]) {
    EXPECT_EQ(res["level"], "error");
    int line = res["locations"][0]["physicalLocation"]["region"]["startLine"];
    got.insert({line, res["ruleId"].get<std::string>()});
    EXPECT_GT(res["locations"][0]["physicalLocation"]["region"]["startColumn"].get<int>(), 0);
    // early_return(): the return on the next-but-one line is named.
    if (line == 27) {
      ASSERT_TRUE(res.contains("relatedLocations")) << res.dump(2);
      early_return_named = res["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 28;
    }
  }
  EXPECT_EQ(got, expectations(kFixtures / "lost_cancel_paths.cpp"));
  EXPECT_TRUE(early_return_named) << r.out;
}

TEST(LintCli, SarifIsValidAgainstTheOfficialSchema) {
  if (!fs::exists(CTXSCOPE_SARIF_VALIDATE)) GTEST_SKIP() << "no validator at " CTXSCOPE_SARIF_VALIDATE;
  fs::path dir = temp_dir("sarif-schema");
  std::vector<std::string> argv = {CTXSCOPE_LINT_EXE, "--format", "sarif", "-o", (dir / "lint.sarif").string()};
  for (const char* f : {"lost_cancel_paths.cpp", "blind_wait.cpp", "lost_cancel_escapes.cpp"})
    argv.push_back((kFixtures / f).string());
  argv.push_back("--");
  for (const std::string& x : compile_args()) argv.push_back(x);
  ASSERT_EQ(run(argv).exit_code, 1);
  Result v = run({"/bin/bash", CTXSCOPE_SARIF_VALIDATE, CTXSCOPE_SARIF_TOOLS, (dir / "lint.sarif").string()});
  if (v.exit_code == 3) GTEST_SKIP() << "SARIF validator tooling unavailable: " << v.err;
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("valid SARIF 2.1.0"), std::string::npos) << v.out << v.err;
}

TEST(LintCli, OutputFileReceivesTheReport) {
  fs::path dir = temp_dir("outfile");
  fs::path a = write_file(dir, "a.cpp", kLeak);
  std::vector<std::string> argv = {CTXSCOPE_LINT_EXE, "-o", (dir / "report.sarif").string(), "--format=sarif",
                                   a.string(), "--"};
  for (const std::string& x : compile_args()) argv.push_back(x);
  Result r = run(argv);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::ifstream in(dir / "report.sarif");
  nlohmann::json log = nlohmann::json::parse(in);
  EXPECT_EQ(log["runs"][0]["results"].size(), 1u);
}

}  // namespace
}  // namespace ctxscope::lint::test
