// Golden tests: a scenario-shaped trace → the expected findings (JSON) and
// text report, compared byte for byte with tests/analysis/golden/*.
// The traces are synthetic (scenario_traces.hpp: their sites name files under
// synthetic/); the goldens recorded from the real samples are checked by
// recorded_golden_test.cpp.  Regenerate after an intended change with
// scripts/regen-goldens.sh (or CTXSCOPE_UPDATE_GOLDEN=1) and review the diff.
#include <gtest/gtest.h>

#include <cstdlib>

#include "scenario_traces.hpp"
#include "test_util.hpp"

namespace ctxscope::testing {
namespace {

void check_golden(const std::string& name, const std::string& actual) {
  const auto path = std::filesystem::path(CTXSCOPE_GOLDEN_DIR) / name;
  if (const char* u = std::getenv("CTXSCOPE_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    write_file(path, actual);
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing (run with CTXSCOPE_UPDATE_GOLDEN=1)";
  EXPECT_EQ(read_file(path), actual) << "golden file " << path << " differs";
}

struct GoldenCase {
  const char* name;
  void (*build)(const std::filesystem::path&);
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, FindingsAndTextReportMatchTheGoldenFiles) {
  const auto trace = test_dir() / "trace.db";
  GetParam().build(trace);
  auto rep = analyze_path(trace);
  rep.run.trace_path = "trace.db";  // the report names the file; keep it stable
  check_golden(std::string(GetParam().name) + ".findings.json", analysis::findings_to_json(rep.findings));
  check_golden(std::string(GetParam().name) + ".txt", analysis::to_text(rep));
  // Every format, as CI systems read them (fingerprints and relative paths included).
  check_golden(std::string(GetParam().name) + ".sarif", analysis::to_sarif(rep));
  check_golden(std::string(GetParam().name) + ".junit.xml", analysis::to_junit(rep));
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Golden,
                         ::testing::Values(GoldenCase{"ci_job", build_ci_job}, GoldenCase{"fanout", build_fanout},
                                           GoldenCase{"premature_cancel", build_premature_cancel}),
                         [](const auto& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace ctxscope::testing
