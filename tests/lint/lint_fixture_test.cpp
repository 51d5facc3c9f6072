// Every fixture under tests/lint/fixtures: ctxscope-lint reports exactly the
// findings written on the lines (`// expect: <rule>`), nothing missing, nothing
// extra; and clang-tidy with the plugin reports the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

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

INSTANTIATE_TEST_SUITE_P(Fixtures, Fixture, ::testing::ValuesIn(fixture_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ctxscope::lint::test
