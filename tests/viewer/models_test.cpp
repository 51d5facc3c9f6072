// The item models under QAbstractItemModelTester, on a hand-built trace and
// on a recorded one; what they say matches the trace model and the report.
#include <QAbstractItemModelTester>

#include "ctxscope/viewer/context_tree_model.hpp"
#include "ctxscope/viewer/findings_model.hpp"
#include "ctxscope/viewer/thread_lanes_model.hpp"
#include "ctxscope/viewer/trace_filter.hpp"
#include "scenario_traces.hpp"
#include "viewer_support.hpp"

namespace ctxscope::testing {
namespace {

using viewer::ContextTreeModel;
using viewer::FindingsModel;
using viewer::NodeState;
using viewer::ThreadLanesModel;

viewer::DocumentPtr load(const std::filesystem::path& p) {
  std::string err;
  auto d = viewer::load_document(p.string(), &err);
  EXPECT_TRUE(d) << err;
  return d;
}

int count_rows(const QAbstractItemModel& m, const QModelIndex& parent = {}) {
  int n = 0;
  for (int r = 0; r < m.rowCount(parent); ++r) n += 1 + count_rows(m, m.index(r, 0, parent));
  return n;
}

TEST(ViewerModels, ContextTreeModelPassesTheModelTesterAndHoldsEveryContext) {
  const auto dir = test_dir();
  build_fanout(dir / "t.db");
  auto doc = load(dir / "t.db");
  ASSERT_TRUE(doc);
  ContextTreeModel m;
  QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::Fatal);
  m.set_document(doc);
  EXPECT_EQ(count_rows(m), static_cast<int>(doc->model().contexts().size()));
  // Every context's index finds its way back to it, and its parent is its parent.
  for (std::uint32_t c = 0; c < doc->model().contexts().size(); ++c) {
    const auto idx = m.index_of_context(c);
    ASSERT_TRUE(idx.isValid());
    EXPECT_EQ(idx.data(ContextTreeModel::ContextRole).toUInt(), c);
    const auto p = doc->model().contexts()[c].parent;
    if (p == analysis::kNoIndex) EXPECT_FALSE(m.parent(idx).isValid());
    else EXPECT_EQ(m.parent(idx).internalId(), p);
  }
  m.set_document(nullptr);
  EXPECT_EQ(m.rowCount(), 0);
  m.set_document(doc);
  EXPECT_GT(m.rowCount(), 0);
}

TEST(ViewerModels, LanesAndFindingsModelsPassTheModelTester) {
  const auto dir = test_dir();
  build_ci_job(dir / "t.db");
  auto doc = load(dir / "t.db");
  ASSERT_TRUE(doc);
  ThreadLanesModel lanes;
  FindingsModel findings;
  QAbstractItemModelTester t1(&lanes, QAbstractItemModelTester::FailureReportingMode::Fatal);
  QAbstractItemModelTester t2(&findings, QAbstractItemModelTester::FailureReportingMode::Fatal);
  lanes.set_document(doc);
  findings.set_document(doc);
  EXPECT_EQ(lanes.rowCount(), static_cast<int>(doc->model().threads().size()));
  ASSERT_EQ(findings.rowCount(), static_cast<int>(doc->report().findings.size()));
  ASSERT_GT(findings.rowCount(), 0);
  for (int r = 0; r < findings.rowCount(); ++r) {
    const auto& f = doc->report().findings[findings.finding_at(r)];
    EXPECT_EQ(findings.index(r, FindingsModel::RuleColumn).data().toString().toStdString(), f.rule);
    EXPECT_EQ(findings.index(r, FindingsModel::MessageColumn).data().toString().toStdString(), f.message);
  }
  // The filter hides rows, and the tester sees the resets.
  viewer::TraceFilter none(*doc, "no-such-thing-anywhere");
  findings.set_filter(&none);
  EXPECT_EQ(findings.rowCount(), 0);
  findings.set_filter(nullptr);
  EXPECT_EQ(findings.rowCount(), static_cast<int>(doc->report().findings.size()));
}

TEST(ViewerModels, RecordedTraceModelsPassTheModelTester) {
  const auto& s = kSamples[5];  // propagation-tree: a deeper tree, sixteen threads
  ASSERT_STREQ(s.name, "propagation-tree");
  if (!s.exe) GTEST_SKIP() << "sample not built";
  const auto dir = test_dir();
  auto doc = load(record_buggy(s, dir));
  ASSERT_TRUE(doc);
  ContextTreeModel m;
  ThreadLanesModel lanes;
  FindingsModel findings;
  QAbstractItemModelTester t0(&m, QAbstractItemModelTester::FailureReportingMode::Fatal);
  QAbstractItemModelTester t1(&lanes, QAbstractItemModelTester::FailureReportingMode::Fatal);
  QAbstractItemModelTester t2(&findings, QAbstractItemModelTester::FailureReportingMode::Fatal);
  m.set_document(doc);
  lanes.set_document(doc);
  findings.set_document(doc);
  EXPECT_EQ(count_rows(m), static_cast<int>(doc->model().contexts().size()));
  EXPECT_EQ(lanes.rowCount(), static_cast<int>(doc->model().threads().size()));
}

TEST(ViewerDocument, LostCancelVerdictIsDrawnAsLeakedAndNothingElseIs) {
  const auto dir = test_dir();
  build_premature_cancel(dir / "t.db");  // one with_cancel under background is never cancelled
  auto doc = load(dir / "t.db");
  ASSERT_TRUE(doc);
  std::set<std::uint32_t> lost;
  for (std::uint32_t f = 0; f < doc->report().findings.size(); ++f)
    if (doc->report().findings[f].rule == "lost-cancel") lost.insert(doc->finding_context(f));
  ASSERT_FALSE(lost.empty());
  for (std::uint32_t c = 0; c < doc->model().contexts().size(); ++c)
    EXPECT_EQ(doc->node_state(c) == NodeState::leaked, lost.count(c) == 1) << doc->context_title(c);
}

TEST(ViewerFilter, FieldTermsMatchTheirFieldOnlyAndKeepAncestors) {
  const auto dir = test_dir();
  build_fanout(dir / "t.db");
  auto doc = load(dir / "t.db");
  ASSERT_TRUE(doc);
  const auto& m = doc->model();
  const auto leaf = m.find_context(1030);
  viewer::TraceFilter by_site(*doc, "site:fetch_logs");
  EXPECT_TRUE(by_site.context_matches(leaf));
  // Its ancestors stay shown, without being hits.
  const auto parent = m.find_context(1027);
  EXPECT_TRUE(by_site.context_visible(parent));
  EXPECT_FALSE(by_site.context_matches(parent));
  EXPECT_TRUE(by_site.thread_visible(m.find_thread(4)));
  viewer::TraceFilter by_thread(*doc, "thread:fetch-logs");
  EXPECT_TRUE(by_thread.thread_visible(m.find_thread(4)));
  viewer::TraceFilter wrong_field(*doc, "rule:fetch_logs");
  EXPECT_FALSE(wrong_field.context_visible(leaf));
  EXPECT_FALSE(wrong_field.thread_visible(m.find_thread(4)));
  ASSERT_EQ(doc->node_state(parent), NodeState::cancelled_by_parent) << viewer::to_string(doc->node_state(parent));
  viewer::TraceFilter both(*doc, "kind:cause state:parent");
  EXPECT_TRUE(both.context_matches(parent));
  EXPECT_FALSE(both.context_matches(leaf));
  EXPECT_FALSE(both.context_matches(m.find_context(1024)));
}

}  // namespace
}  // namespace ctxscope::testing
