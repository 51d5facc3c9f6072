// Each scenario's recorded buggy trace in the window: what is on screen.
// The node count and states of the tree, the lanes, the stuck or blind wait
// of the finding drawn in its colour with no arrow to it, selection shared
// from a finding to its node, filtering, and the screenshot written for a
// person to look at (build tree: tests/viewer/screenshots/<scenario>.png).
#include <QImage>
#include <QTableView>
#include <QTest>
#include <QTextBrowser>
#include <set>

#include "ctxscope/viewer/palette.hpp"
#include "viewer_support.hpp"

namespace ctxscope::testing {
namespace {

using analysis::kNoIndex;
using analysis::kNoTime;
using viewer::NodeState;
using viewer::WaitStyle;

class ViewerScenario : public ::testing::TestWithParam<Sample> {
 protected:
  void SetUp() override {
    if (!GetParam().exe) GTEST_SKIP() << GetParam().name << " is not built";
    dir = test_dir();
    trace = record_buggy(GetParam(), dir);
  }
  std::filesystem::path dir, trace;
};

/// Pixels of exactly `c` in a rectangle of an image.
int pixels_of(const QImage& img, QRect r, QColor c) {
  r = r.intersected(img.rect());
  int n = 0;
  for (int y = r.top(); y <= r.bottom(); ++y)
    for (int x = r.left(); x <= r.right(); ++x) n += img.pixelColor(x, y).rgb() == c.rgb();
  return n;
}

TEST_P(ViewerScenario, TreeShowsEveryContextInItsStateAndTheLeakInRed) {
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  const auto& doc = *sw.w.document();
  auto* scene = sw.w.tree_scene();
  EXPECT_EQ(scene->drawn().size(), doc.model().contexts().size());
  EXPECT_FALSE(scene->wave_running()) << "opening a run animates no cancel wave";
  // Leaked exactly where the rule engine found a lost cancel.
  std::set<std::uint32_t> lost;
  for (std::uint32_t f = 0; f < doc.report().findings.size(); ++f)
    if (doc.report().findings[f].rule == "lost-cancel") lost.insert(doc.finding_context(f));
  for (std::uint32_t c = 0; c < doc.model().contexts().size(); ++c)
    EXPECT_EQ(doc.node_state(c) == NodeState::leaked, lost.count(c) == 1) << doc.context_title(c);
  // Every drawn node is filled with its state's colour (at natural size, inside its border).
  auto* view = sw.w.tree_view();
  view->setTransform(QTransform());
  for (auto c : scene->drawn()) {
    const QRectF r = scene->node_rect(c);
    view->centerOn(r.center());
    QCoreApplication::processEvents();
    const QImage img = view->viewport()->grab().toImage();
    const QPoint p = view->mapFromScene(QPointF(r.left() + 5, r.top() + r.height() / 2));
    const QColor want = viewer::palette::node_fill(doc.node_state(c));
    EXPECT_GT(pixels_of(img, QRect(p.x(), p.y() - 2, 2, 4), want), 0)
        << doc.context_title(c) << " is not drawn as " << viewer::to_string(doc.node_state(c));
  }
}

TEST_P(ViewerScenario, TheStuckOrBlindWaitIsDrawnInItsColourWithNoArrow) {
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  const auto& doc = *sw.w.document();
  auto* lanes = sw.w.lanes_scene();
  EXPECT_EQ(lanes->lanes().size(), doc.model().threads().size());
  std::set<std::uint32_t> waits;
  for (std::uint32_t f = 0; f < doc.report().findings.size(); ++f) {
    const auto& r = doc.report().findings[f].rule;
    if ((r == "stuck-wait" || r == "blind-wait") && doc.finding_wait(f) != kNoIndex) waits.insert(doc.finding_wait(f));
  }
  const std::string name = GetParam().name;
  if (name == "ci-job" || name == "first-response" || name == "pipeline" || name == "fanout-timeout") {
    ASSERT_FALSE(waits.empty()) << name << ": its buggy trace has no stuck or blind wait finding";
  }
  if (waits.empty()) GTEST_SKIP() << name << " has no stuck or blind wait (its bug is another rule's)";
  auto* view = sw.w.lanes_view();
  lanes->record(true);
  for (auto w : waits) {
    const auto& wt = doc.model().waits()[w];
    const auto style = doc.wait_style(w);
    EXPECT_TRUE(style == WaitStyle::stuck || style == WaitStyle::blind) << doc.wait_title(w);
    view->fit();
    view->show_lane(lanes->row_of_thread(doc.model().find_thread(wt.thread)));
    const QImage img = view->viewport()->grab().toImage();
    const auto& rec = lanes->last_paint();
    ASSERT_TRUE(rec.wait_colour.count(w)) << doc.wait_title(w) << " was not drawn";
    EXPECT_EQ(rec.wait_colour.at(w).rgb(), viewer::palette::wait_fill(style).rgb());
    EXPECT_EQ(rec.arrow_to.count(w), 0u) << doc.wait_title(w) << " has an arrow: something woke it";
    // And on screen: its bar holds pixels of its colour.
    const QRectF br = lanes->wait_rect(w);
    const QRect dev = view->mapFromScene(br).boundingRect();
    EXPECT_GT(pixels_of(img, dev.adjusted(0, 1, 0, -1), viewer::palette::wait_fill(style)), 0);
    // A blind wait under a done context shows the gap where the arrow should be.
    if (doc.wait_missed(w)) {
      EXPECT_TRUE(rec.gap_at.count(w)) << doc.wait_title(w);
    }
  }
  // Arrows are drawn where cancels woke waits, and only there.
  for (auto w : lanes->last_paint().arrow_to) EXPECT_EQ(doc.wait_style(w), WaitStyle::ended_by_done);
}

TEST_P(ViewerScenario, SelectingAFindingSelectsItsNodeThreadAndWait) {
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  const auto& doc = *sw.w.document();
  ASSERT_FALSE(doc.report().findings.empty()) << "a buggy scenario without findings";
  for (std::uint32_t f = 0; f < doc.report().findings.size(); ++f) {
    // Through the table, as a click does.
    const int row = sw.w.findings_model()->row_of_finding(f);
    ASSERT_GE(row, 0);
    sw.w.findings_view()->selectRow(row);
    sw.w.findings_view()->setCurrentIndex(sw.w.findings_view()->model()->index(row, 0));
    EXPECT_EQ(sw.w.selected_finding(), f);
    EXPECT_EQ(sw.w.tree_scene()->selected_context(), doc.finding_context(f));
    if (doc.finding_context(f) != kNoIndex) {
      EXPECT_TRUE(sw.w.tree_scene()->is_drawn(doc.finding_context(f)));
    }
    EXPECT_EQ(sw.w.lanes_scene()->selected_thread(), doc.finding_thread(f));
    EXPECT_EQ(sw.w.lanes_scene()->selected_wait(), doc.finding_wait(f));
    EXPECT_TRUE(sw.w.details()->toPlainText().contains(QString::fromStdString(doc.report().findings[f].rule)));
  }
}

TEST_P(ViewerScenario, FilteringHidesWhatDoesNotMatch) {
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  const auto& doc = *sw.w.document();
  const auto all_nodes = sw.w.tree_scene()->drawn().size();
  const auto all_lanes = sw.w.lanes_scene()->lanes().size();
  ASSERT_FALSE(doc.report().findings.empty());
  const auto& first = doc.report().findings.front();
  // By rule: only that rule's findings, their contexts (and ancestors) stay.
  sw.w.set_filter_text(QStringLiteral("rule:") + QString::fromStdString(first.rule));
  std::size_t want = 0;
  for (const auto& f : doc.report().findings) want += f.rule == first.rule;
  EXPECT_EQ(static_cast<std::size_t>(sw.w.findings_model()->rowCount()), want);
  if (doc.finding_context(0) != kNoIndex) {
    EXPECT_TRUE(sw.w.tree_scene()->is_drawn(doc.finding_context(0)));
  }
  EXPECT_LE(sw.w.tree_scene()->drawn().size(), all_nodes);
  // Nothing matches: nothing drawn.
  sw.w.set_filter_text(QStringLiteral("no-such-site-or-thread"));
  EXPECT_EQ(sw.w.tree_scene()->drawn().size(), 0u);
  EXPECT_EQ(sw.w.lanes_scene()->lanes().size(), 0u);
  EXPECT_EQ(sw.w.findings_model()->rowCount(), 0);
  // A thread's name: its lane stays, the other lanes go.
  const auto t0 = doc.lanes().front();
  sw.w.set_filter_text(QStringLiteral("thread:") + QString::fromStdString(doc.thread_title(t0)).section(' ', 0, 0));
  EXPECT_GE(sw.w.lanes_scene()->row_of_thread(t0), 0);
  EXPECT_LE(sw.w.lanes_scene()->lanes().size(), all_lanes);
  // Cleared: everything back.
  sw.w.set_filter_text(QString());
  EXPECT_EQ(sw.w.tree_scene()->drawn().size(), all_nodes);
  EXPECT_EQ(sw.w.lanes_scene()->lanes().size(), all_lanes);
  EXPECT_EQ(static_cast<std::size_t>(sw.w.findings_model()->rowCount()), doc.report().findings.size());
}

TEST_P(ViewerScenario, ArrowKeysWalkTheTree) {
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  const auto& m = sw.w.document()->model();
  auto* scene = sw.w.tree_scene();
  // The first root with children (background in most samples, todo in some).
  std::uint32_t root = kNoIndex;
  for (auto r : m.roots())
    if (!m.contexts()[r].children.empty()) { root = r; break; }
  if (root == kNoIndex) GTEST_SKIP() << "no context of this run has a child";
  sw.w.select_context(root);
  sw.w.tree_view()->setFocus();
  QTest::keyClick(sw.w.tree_view(), Qt::Key_Down);
  const auto child = scene->selected_context();
  EXPECT_EQ(m.contexts()[child].parent, root);
  QTest::keyClick(sw.w.tree_view(), Qt::Key_Up);
  EXPECT_EQ(scene->selected_context(), root);
  // Collapse hides the subtree, expand brings it back.
  const auto before = scene->drawn().size();
  QTest::keyClick(sw.w.tree_view(), Qt::Key_Return);  // (Space is play/pause)
  EXPECT_LT(scene->drawn().size(), before);
  EXPECT_FALSE(scene->is_drawn(child));
  QTest::keyClick(sw.w.tree_view(), Qt::Key_Return);
  EXPECT_EQ(scene->drawn().size(), before);
}

TEST_P(ViewerScenario, ScreenshotOfTheBuggyRunIsWritten) {
  const std::filesystem::path out_dir = CTXSCOPE_SCREENSHOT_DIR;
  std::filesystem::create_directories(out_dir);
  const auto out = out_dir / (std::string(GetParam().name) + ".png");
  std::filesystem::remove(out);
  const auto r = run_cmd(std::string("QT_QPA_PLATFORM=offscreen timeout -k 5 120 '") + CTXSCOPE_VIEWER +
                             "' --screenshot '" + out.string() + "' '" + trace.string() + "'",
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  QImage img(QString::fromStdString(out.string()));
  ASSERT_FALSE(img.isNull());
  EXPECT_EQ(img.size(), QSize(1600, 1000));
  std::cout << "screenshot: " << out.string() << "\n";
}

INSTANTIATE_TEST_SUITE_P(Buggy, ViewerScenario, ::testing::ValuesIn(kSamples),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace ctxscope::testing
