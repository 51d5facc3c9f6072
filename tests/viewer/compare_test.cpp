// Comparing two runs in the window (ctxscope-viewer --diff A B, issue 13):
// each scenario's buggy run against its fixed run shows what the fix removed
// (its findings under "Fixed", none under "New"), marks in the tree and the
// lanes exactly the entities the analysis says only one run has, follows a
// row of the Compare tab to its finding or entity in the right run; a run
// against itself has nothing to mark; a bad file is one line and exit 2.
// The screenshot of each comparison goes to screenshots/compare-<scenario>.png.
#include <QComboBox>
#include <QImage>
#include <QTabWidget>
#include <QTextBrowser>
#include <QTreeWidget>

#include "ctxscope/viewer/palette.hpp"
#include "hostile_corpus.hpp"
#include "viewer_support.hpp"

namespace ctxscope::testing {
namespace {

using analysis::kNoIndex;

/// compare(a, b) and the event loop until the comparison is shown or failed.
bool compare_and_wait(viewer::MainWindow& w, const std::filesystem::path& a, const std::filesystem::path& b,
                      QString* error = nullptr) {
  QEventLoop loop;
  bool ok = false, done = false;
  auto c1 = QObject::connect(&w, &viewer::MainWindow::diffLoaded, &loop, [&] { ok = done = true; loop.quit(); });
  auto c2 = QObject::connect(&w, &viewer::MainWindow::loadFailed, &loop, [&](const QString& m) {
    if (error) *error = m;
    done = true;
    loop.quit();
  });
  QTimer guard;
  guard.setSingleShot(true);
  QObject::connect(&guard, &QTimer::timeout, &loop, &QEventLoop::quit);
  guard.start(120000);
  w.compare(QString::fromStdString(a.string()), QString::fromStdString(b.string()));
  if (!done) loop.exec();
  QObject::disconnect(c1);
  QObject::disconnect(c2);
  EXPECT_TRUE(done) << "the loader did not answer within 120 s";
  return ok;
}

/// The rows under the Compare tab's group whose title starts with `title`.
std::vector<QTreeWidgetItem*> rows_of(QTreeWidget* t, const QString& title) {
  std::vector<QTreeWidgetItem*> out;
  for (int i = 0; i < t->topLevelItemCount(); ++i) {
    auto* g = t->topLevelItem(i);
    if (!g->text(1).startsWith(title)) continue;
    for (int k = 0; k < g->childCount(); ++k) out.push_back(g->child(k));
  }
  return out;
}

class ViewerCompare : public ::testing::TestWithParam<Sample> {
 protected:
  void SetUp() override {
    if (!GetParam().exe) GTEST_SKIP() << GetParam().name << " is not built";
    dir = test_dir();
    run_sample_traced(GetParam(), "buggy", dir);
    run_sample_traced(GetParam(), "fixed", dir);
    buggy = dir / "buggy.db";
    fixed = dir / "fixed.db";
  }
  std::filesystem::path dir, buggy, fixed;
};

TEST_P(ViewerCompare, BuggyAgainstFixedShowsWhatTheFixRemovedAndMarksWhatOnlyOneRunHas) {
  ShownWindow sw;
  auto& w = sw.w;
  ASSERT_TRUE(compare_and_wait(w, buggy, fixed));
  ASSERT_TRUE(w.diff());
  const auto& d = *w.diff();
  const auto& rd = d.diff;
  // The comparison is the analysis's (what `ctxscope diff` prints): every
  // finding of the buggy run fixed, none new.
  EXPECT_EQ(rd.fixed.size(), d.a->report().findings.size());
  EXPECT_TRUE(rd.added.empty());
  EXPECT_TRUE(rd.kept.empty());
  ASSERT_FALSE(rd.fixed.empty()) << "every buggy sample has a finding";

  // On screen: the Compare tab lists them, and the run with what was fixed (A) is shown.
  auto* tabs = w.findChild<QTabWidget*>();
  ASSERT_NE(tabs, nullptr);
  EXPECT_EQ(tabs->currentWidget(), w.compare_view());
  EXPECT_EQ(rows_of(w.compare_view(), "Fixed").size(), rd.fixed.size());
  EXPECT_TRUE(rows_of(w.compare_view(), "New").empty());
  EXPECT_EQ(rows_of(w.compare_view(), "Contexts").size(), rd.contexts.size());
  EXPECT_EQ(rows_of(w.compare_view(), "Waits").size(), rd.waits.size());
  EXPECT_TRUE(w.showing_a());
  EXPECT_EQ(w.document(), d.a);
  QCoreApplication::processEvents();
  EXPECT_TRUE(w.run_box()->isVisible());
  EXPECT_EQ(w.run_box()->currentIndex(), 0);

  // The marks are exactly the analysis's "only in" entities of the shown run.
  for (bool run_a : {true, false}) {
    w.show_run(run_a);
    ASSERT_EQ(w.document(), d.run(run_a));
    const auto& doc = *w.document();
    const auto& only_c = d.contexts_only_in(run_a);
    const auto& only_w = d.waits_only_in(run_a);
    ASSERT_EQ(only_c.size(), doc.model().contexts().size());
    std::size_t marked = 0;
    for (std::uint32_t c = 0; c < doc.model().contexts().size(); ++c) {
      EXPECT_EQ(w.tree_scene()->marked(c), only_c[c] != 0) << doc.context_title(c);
      marked += only_c[c];
    }
    std::size_t surplus = 0;
    for (const auto& ec : rd.contexts) surplus += (run_a ? ec.only_a : ec.only_b).size();
    EXPECT_EQ(marked, surplus);
    for (std::uint32_t i = 0; i < doc.model().waits().size(); ++i)
      EXPECT_EQ(w.lanes_scene()->marked(i), only_w[i] != 0) << doc.wait_title(i);
    // Drawn: every marked wait in view gets the frame (the whole run fitted; lanes below the view are not painted).
    w.fit_all();
    w.lanes_scene()->record(true);
    w.lanes_view()->viewport()->grab();
    w.lanes_scene()->record(false);
    const QRectF shown = w.lanes_view()->mapToScene(w.lanes_view()->viewport()->rect()).boundingRect();
    for (std::uint32_t i = 0; i < doc.model().waits().size(); ++i)
      if (only_w[i] && shown.intersects(w.lanes_scene()->wait_rect(i))) {
        EXPECT_TRUE(w.lanes_scene()->last_paint().marked_at.count(i)) << doc.wait_title(i) << " is not drawn marked";
      }
  }

  // A Fixed row selects its finding in run A (switching to A), with its context; the details say "Fixed".
  w.show_run(false);
  const auto fixed_rows = rows_of(w.compare_view(), "Fixed");
  for (std::size_t k = 0; k < fixed_rows.size(); ++k) {
    w.compare_view()->setCurrentItem(fixed_rows[k]);
    EXPECT_TRUE(w.showing_a());
    EXPECT_EQ(w.selected_finding(), rd.fixed_in_a[k]);
    const auto c = d.a->finding_context(rd.fixed_in_a[k]);
    if (c != kNoIndex) {
      EXPECT_EQ(w.tree_scene()->selected_context(), c);
    }
    EXPECT_TRUE(w.details()->toPlainText().startsWith("Fixed")) << w.details()->toPlainText().toStdString();
  }
  // A context row selects the first context only its run has, marked, and says so.
  for (auto* row : rows_of(w.compare_view(), "Contexts")) {
    w.compare_view()->setCurrentItem(row);
    const auto c = w.tree_scene()->selected_context();
    ASSERT_NE(c, kNoIndex) << row->text(1).toStdString();
    EXPECT_TRUE(w.tree_scene()->marked(c));
    EXPECT_TRUE(w.details()->toPlainText().startsWith(w.showing_a() ? "Only in A" : "Only in B"));
  }
  // The run selector switches runs.
  w.run_box()->setCurrentIndex(1);
  EXPECT_FALSE(w.showing_a());
  EXPECT_EQ(w.document(), d.b);
  // Opening a plain file ends the comparison.
  ASSERT_TRUE(open_and_wait(w, buggy));
  EXPECT_FALSE(w.diff());
  EXPECT_FALSE(w.run_box()->isVisible());
  EXPECT_EQ(tabs->indexOf(w.compare_view()), -1);
  for (std::uint32_t c = 0; c < w.document()->model().contexts().size(); ++c) EXPECT_FALSE(w.tree_scene()->marked(c));
}

TEST_P(ViewerCompare, ARunAgainstItselfHasNothingToMark) {
  ShownWindow sw;
  auto& w = sw.w;
  ASSERT_TRUE(compare_and_wait(w, buggy, buggy));
  const auto& rd = w.diff()->diff;
  EXPECT_TRUE(rd.fixed.empty());
  EXPECT_TRUE(rd.added.empty());
  EXPECT_EQ(rd.kept.size(), w.diff()->b->report().findings.size());
  EXPECT_FALSE(w.showing_a());  // nothing fixed: B, the later run, is shown
  EXPECT_EQ(rows_of(w.compare_view(), "In both").size(), rd.kept.size());
  for (std::uint32_t c = 0; c < w.document()->model().contexts().size(); ++c) EXPECT_FALSE(w.tree_scene()->marked(c));
  for (std::uint32_t i = 0; i < w.document()->model().waits().size(); ++i) EXPECT_FALSE(w.lanes_scene()->marked(i));
}

TEST_P(ViewerCompare, ScreenshotOfTheComparisonIsWritten) {
  const std::filesystem::path out_dir = CTXSCOPE_SCREENSHOT_DIR;
  std::filesystem::create_directories(out_dir);
  const auto out = out_dir / ("compare-" + std::string(GetParam().name) + ".png");
  std::filesystem::remove(out);
  const auto r = run_cmd(std::string("QT_QPA_PLATFORM=offscreen timeout -k 5 120 '") + CTXSCOPE_VIEWER + "' --diff '" +
                             buggy.string() + "' '" + fixed.string() + "' --screenshot '" + out.string() + "'",
                         dir);
  ASSERT_EQ(r.code, 0) << r.err;
  QImage img(QString::fromStdString(out.string()));
  ASSERT_FALSE(img.isNull());
  EXPECT_EQ(img.size(), QSize(1600, 1000));
  // The compare mark is on screen (the purple of "only in").
  int purple = 0;
  for (int y = 0; y < img.height(); y += 2)
    for (int x = 0; x < img.width(); x += 2) purple += img.pixelColor(x, y).rgb() == viewer::palette::diff_only().rgb();
  EXPECT_GT(purple, 50);
  std::cout << "screenshot: " << out.string() << "\n";
}

INSTANTIATE_TEST_SUITE_P(BuggyVsFixed, ViewerCompare, ::testing::ValuesIn(kSamples), [](const auto& info) {
  std::string n = info.param.name;
  for (auto& c : n)
    if (c == '-') c = '_';
  return n;
});

TEST(ViewerCompareInput, ABadFileOnEitherSideIsOneLineNamingItAndExit2) {
  const auto dir = test_dir();
  const auto good = dir / "good.db";
  { TraceBuilder b(good, 10); }
  for (const auto& [what, p] : hostile_corpus(dir)) {
    for (bool bad_first : {true, false}) {
      const auto a = bad_first ? p : good, b = bad_first ? good : p;
      const auto out = dir / (what + ".png");
      const auto r = run_cmd(std::string("QT_QPA_PLATFORM=offscreen timeout -k 5 60 '") + CTXSCOPE_VIEWER +
                                 "' --diff '" + a.string() + "' '" + b.string() + "' --screenshot '" + out.string() +
                                 "'",
                             dir);
      EXPECT_EQ(r.code, 2) << what << ": " << r.err;
      EXPECT_NE(r.err.find("ctxscope-viewer: " + p.string() + ": "), std::string::npos) << what << ": " << r.err;
      EXPECT_FALSE(std::filesystem::exists(out)) << what;
    }
  }
  const auto r = run_cmd(std::string("QT_QPA_PLATFORM=offscreen '") + CTXSCOPE_VIEWER + "' --diff '" + good.string() + "'", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--diff needs two trace files"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ctxscope::testing
