// The seven samples: ctxscope-lint reports lost-cancel in buggy.cpp exactly on
// the lines where the dynamic analyzer must (`// trace-expect: lost-cancel`),
// and nothing at all in fixed.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

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

INSTANTIATE_TEST_SUITE_P(Samples, Sample, ::testing::ValuesIn(sample_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

}  // namespace
}  // namespace ctxscope::lint::test
