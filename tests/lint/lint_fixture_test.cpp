// Every fixture under tests/lint/fixtures: ctxscope-lint reports exactly the
// findings written on the lines (`// expect: <rule>`), nothing missing, nothing
// extra; and clang-tidy with the plugin reports the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "LintHarness.h"

namespace ctxscope::lint::test {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> fixture_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(CTXSCOPE_LINT_FIXTURES))
    if (e.path().extension() == ".cpp") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

class Fixture : public ::testing::TestWithParam<std::string> {
 protected:
  fs::path file() const { return fs::path(CTXSCOPE_LINT_FIXTURES) / (GetParam() + ".cpp"); }

  void expect_exactly(const std::set<LineRule>& got, const Result& r) {
    std::set<LineRule> want = expectations(file());
    std::set<LineRule> missing, extra;
    std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::inserter(missing, missing.end()));
    std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::inserter(extra, extra.end()));
    EXPECT_TRUE(missing.empty() && extra.empty())
        << file().string() << "\nmissing:\n" << describe(missing) << "extra:\n" << describe(extra)
        << "output:\n" << r.out << "stderr:\n" << r.err;
  }
};

TEST_P(Fixture, LintReportsExactlyTheExpectedFindings) {
  std::vector<std::string> argv = {CTXSCOPE_LINT_EXE, file().string(), "--"};
  for (const std::string& a : compile_args()) argv.push_back(a);
  Result r = run(argv);
  bool any = !expectations(file()).empty();
  EXPECT_EQ(r.exit_code, any ? 1 : 0) << r.err;
  expect_exactly(findings(r.out, file().filename().string()), r);
}

TEST_P(Fixture, ClangTidyPluginReportsTheSameFindings) {
  std::string tidy = CTXSCOPE_CLANG_TIDY;
  if (tidy.empty() || !fs::exists(tidy)) GTEST_SKIP() << "clang-tidy-14 not installed";
  std::vector<std::string> argv = {tidy, "--load=" CTXSCOPE_TIDY_PLUGIN, "-checks=-*,ctxscope-*", "--quiet",
                                   file().string(), "--", "-include", CTXSCOPE_LINT_COMPAT_HEADER};
  for (const std::string& a : compile_args()) argv.push_back(a);
  Result r = run(argv);
  expect_exactly(findings(r.out, file().filename().string()), r);
}

// The plugin makes its findings errors (its module's default WarningsAsErrors),
// so clang-tidy's exit status shows them to CI; --warnings-as-errors='-ctxscope-*'
// turns that off again.
TEST(ClangTidyPlugin, FindingsAreErrorsSoClangTidyExitsNonZero) {
  std::string tidy = CTXSCOPE_CLANG_TIDY;
  if (tidy.empty() || !fs::exists(tidy)) GTEST_SKIP() << "clang-tidy-14 not installed";
  fs::path leaky = fs::path(CTXSCOPE_LINT_FIXTURES) / "lost_cancel_paths.cpp";
  fs::path clean = temp_dir("tidy-clean") / "clean.cpp";
  std::ofstream(clean) << "#include <ctxscope/context.hpp>\n"
                          "void f(const ctxscope::Context& p) { auto [c, cancel] = ctxscope::with_cancel(p); cancel(); }\n";
  auto tidy_on = [&](const fs::path& file, const std::string& extra) {
    std::vector<std::string> argv = {tidy, "--load=" CTXSCOPE_TIDY_PLUGIN, "-checks=-*,ctxscope-*", "--quiet"};
    if (!extra.empty()) argv.push_back(extra);
    argv.insert(argv.end(), {file.string(), "--", "-include", CTXSCOPE_LINT_COMPAT_HEADER});
    for (const std::string& a : compile_args()) argv.push_back(a);
    return run(argv);
  };
  Result r = tidy_on(leaky, "");
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": error: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[ctxscope-lost-cancel,-warnings-as-errors]"), std::string::npos) << r.out;
  Result off = tidy_on(leaky, "--warnings-as-errors=-ctxscope-*");
  EXPECT_EQ(off.exit_code, 0) << off.out << off.err;
  EXPECT_NE(off.out.find(": warning: "), std::string::npos) << off.out;
  Result ok = tidy_on(clean, "");
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
}

// CheckOptions ctxscope-lost-cancel.CallsMayThrow (off by default): every call
// that is not noexcept is an exception edge too, routed like a throw of an
// unknown type (only catch (...) surely catches it).
TEST(ClangTidyPlugin, CallsMayThrowOptionMakesCallsExitPaths) {
  std::string tidy = CTXSCOPE_CLANG_TIDY;
  if (tidy.empty() || !fs::exists(tidy)) GTEST_SKIP() << "clang-tidy-14 not installed";
  fs::path file = temp_dir("tidy-calls") / "calls.cpp";
  std::ofstream(file) << R"(#include <ctxscope/context.hpp>
#include <stdexcept>
namespace cs = ctxscope;
void g();
void h() noexcept;
void throws_out(const cs::Context& p) {
  auto [ctx, cancel] = cs::with_cancel(p);  // line 7: with the option
  g();
  cancel();
}
void nothrow_call(const cs::Context& p) {
  auto [ctx, cancel] = cs::with_cancel(p);
  h();
  cancel();
}
void caught_by_catch_all(const cs::Context& p) {
  auto [ctx, cancel] = cs::with_cancel(p);
  try {
    g();
  } catch (...) {
  }
  cancel();
}
void maybe_caught(const cs::Context& p) {
  auto [ctx, cancel] = cs::with_cancel(p);  // line 25: with the option
  try {
    g();
  } catch (const std::exception&) {
  }
  cancel();
}
void deferred(const cs::Context& p) {
  auto [ctx, cancel] = cs::with_cancel(p);
  auto guard = cs::defer(cancel);
  g();
}
)";
  auto tidy_on = [&](const std::string& config) {
    std::vector<std::string> argv = {tidy, "--load=" CTXSCOPE_TIDY_PLUGIN, "-checks=-*,ctxscope-*", "--quiet"};
    if (!config.empty()) argv.push_back("--config=" + config);
    argv.insert(argv.end(), {file.string(), "--", "-include", CTXSCOPE_LINT_COMPAT_HEADER});
    for (const std::string& a : compile_args()) argv.push_back(a);
    return run(argv);
  };
  Result off = tidy_on("");
  EXPECT_TRUE(findings(off.out, "calls.cpp").empty()) << off.out << off.err;
  Result on = tidy_on("{CheckOptions: [{key: ctxscope-lost-cancel.CallsMayThrow, value: true}]}");
  std::set<LineRule> want = {{7, "lost-cancel"}, {25, "lost-cancel"}};
  EXPECT_EQ(findings(on.out, "calls.cpp"), want) << on.out << on.err;
  // The same option as ctxscope-lint's flag.
  auto lint_on = [&](bool flag) {
    std::vector<std::string> argv = {CTXSCOPE_LINT_EXE};
    if (flag) argv.push_back("--calls-may-throw");
    argv.insert(argv.end(), {file.string(), "--", "-include", CTXSCOPE_LINT_COMPAT_HEADER});
    for (const std::string& a : compile_args()) argv.push_back(a);
    return run(argv);
  };
  Result lint_off = lint_on(false), lint_flag = lint_on(true);
  EXPECT_TRUE(findings(lint_off.out, "calls.cpp").empty()) << lint_off.out << lint_off.err;
  EXPECT_EQ(findings(lint_flag.out, "calls.cpp"), want) << lint_flag.out << lint_flag.err;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Fixture, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ctxscope::lint::test
