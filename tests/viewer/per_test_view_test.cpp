// The per-test view: a trace written under the probe (its meta suite, run
// traced) carries its tests; the selector lists them and filters the tree,
// the lanes and the findings to one test's contexts, threads and findings.
// A trace without tests shows no selector.
#include <QComboBox>
#include <QToolBar>
#include <set>

#include "viewer_support.hpp"

namespace ctxscope::testing {
namespace {

using analysis::kNoIndex;

#ifdef CTXSCOPE_PROBE_META
TEST(ViewerPerTest, TheSelectorFiltersTreeLanesAndFindingsToOneTest) {
  const auto dir = test_dir();
  const auto trace = dir / "probe.db";
  // The suite fails on purpose (its leaks); what matters is the trace it writes.
  const auto r = run_cmd("CTXSCOPE_TRACE='" + trace.string() + "' CTXSCOPE_PROBE_GRACE_MS=200 timeout -k 5 120 '" +
                             std::string(CTXSCOPE_PROBE_META) + "' --gtest_filter='Leaky.*:Clean.*'",
                         dir);
  ASSERT_NE(r.code, 124) << "the probe's meta suite did not finish";
  ASSERT_TRUE(std::filesystem::exists(trace)) << r.out << r.err;
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  const auto& doc = *sw.w.document();
  const auto& m = doc.model();
  ASSERT_GE(m.tests().size(), 3u);
  auto* box = sw.w.test_box();
  QCoreApplication::processEvents();  // the toolbar lays its widgets out
  EXPECT_TRUE(box->isVisibleTo(&sw.w));
  EXPECT_EQ(box->count(), static_cast<int>(m.tests().size()) + 1);
  bool some_findings = false;
  for (const auto& t : m.tests()) {
    if (t.kind != 0) continue;
    box->setCurrentIndex(box->findData(t.id));  // as a person picks it
    ASSERT_EQ(sw.w.selected_test(), t.id);
    // Tree: every context of the test, and only those and their ancestors.
    std::set<std::uint32_t> want;
    for (std::uint32_t c = 0; c < m.contexts().size(); ++c)
      if (m.contexts()[c].test == t.id)
        for (auto a = c; a != kNoIndex; a = m.contexts()[a].parent) want.insert(a);
    const auto& drawn = sw.w.tree_scene()->drawn();
    EXPECT_EQ(std::set<std::uint32_t>(drawn.begin(), drawn.end()), want) << t.name;
    // Lanes: the threads it started.
    std::set<std::uint32_t> lanes_want;
    for (std::uint32_t i = 0; i < m.threads().size(); ++i)
      if (m.threads()[i].test == t.id) lanes_want.insert(i);
    const auto& lanes = sw.w.lanes_scene()->lanes();
    EXPECT_EQ(std::set<std::uint32_t>(lanes.begin(), lanes.end()), lanes_want) << t.name;
    // Findings: those whose context or thread is the test's.
    std::set<std::uint32_t> f_want, f_shown;
    for (std::uint32_t f = 0; f < doc.report().findings.size(); ++f) {
      const auto c = doc.finding_context(f), th = doc.finding_thread(f);
      if ((c != kNoIndex && m.contexts()[c].test == t.id) || (th != kNoIndex && m.threads()[th].test == t.id))
        f_want.insert(f);
    }
    for (int row = 0; row < sw.w.findings_model()->rowCount(); ++row) f_shown.insert(sw.w.findings_model()->finding_at(row));
    EXPECT_EQ(f_shown, f_want) << t.name;
    some_findings |= !f_want.empty();
  }
  EXPECT_TRUE(some_findings) << "no test of the leaky suite has a finding: the filter was not exercised";
  // Back to all.
  box->setCurrentIndex(0);
  EXPECT_EQ(sw.w.selected_test(), 0u);
  EXPECT_EQ(sw.w.tree_scene()->drawn().size(), m.contexts().size());
  EXPECT_EQ(sw.w.findings_model()->rowCount(), static_cast<int>(doc.report().findings.size()));
}
#endif

TEST(ViewerPerTest, ATraceWithoutTestsShowsNoSelector) {
  const Sample* s = nullptr;
  for (const auto& x : kSamples)
    if (x.exe) s = &x;
  if (!s) GTEST_SKIP() << "no scenario is built";
  const auto dir = test_dir();
  const auto trace = record_buggy(*s, dir);
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  ASSERT_TRUE(sw.w.document()->model().tests().empty());
  QCoreApplication::processEvents();
  EXPECT_FALSE(sw.w.test_box()->isVisibleTo(&sw.w));
}

}  // namespace
}  // namespace ctxscope::testing
