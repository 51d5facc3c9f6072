// The window's plumbing: a site link shows the source, recent files are
// remembered, a dropped file opens, `/` goes to the filter box.
#include <QLineEdit>
#include <QMimeData>
#include <QSettings>
#include <QScrollBar>
#include <QTest>
#include <QTextBrowser>

#include <fstream>

#include "ctxscope/context.hpp"
#include "ctxscope/trace.hpp"
#include "ctxscope/trace_reader.hpp"
#include "ctxscope/viewer/palette.hpp"
#include "scenario_traces.hpp"
#include "trace_builder.hpp"
#include "viewer_support.hpp"

namespace ctxscope::testing {
namespace {

const Sample& ci_job() { return kSamples[0]; }

TEST(ViewerWindow, ASiteLinkShowsTheSourceLinesWhenNoEditorIsSet) {
  if (!ci_job().exe) GTEST_SKIP();
  const auto dir = test_dir();
  const auto trace = record_buggy(ci_job(), dir);
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  const auto& doc = *sw.w.document();
  const auto& f = doc.report().findings.front();
  ASSERT_TRUE(f.site.known());
  ASSERT_TRUE(std::filesystem::exists(f.site.file)) << f.site.file;
  std::uint32_t site = analysis::kNoIndex;
  for (std::uint32_t i = 0; i < doc.model().sites().size(); ++i)
    if (doc.model().sites()[i].file == f.site.file && doc.model().sites()[i].line == f.site.line) site = i;
  ASSERT_NE(site, analysis::kNoIndex);
  emit sw.w.details()->anchorClicked(QUrl(QStringLiteral("site:%1").arg(site)));
  // The line the finding names, read from the sample's source.
  std::ifstream src(f.site.file);
  std::string line;
  for (int n = 0; n < f.site.line; ++n) std::getline(src, line);
  const auto text = sw.w.details()->toPlainText();
  EXPECT_TRUE(text.contains(QString::fromStdString(line).trimmed())) << text.toStdString();
  EXPECT_TRUE(text.contains(QString::number(f.site.line)));
}

TEST(ViewerWindow, AnOpenedFileIsRememberedAmongRecentFiles) {
  const auto dir = test_dir();
  const auto p = dir / "t.db";
  { TraceBuilder b(p, 10); }
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, p));
  const QStringList recent = QSettings().value("recent").toStringList();
  ASSERT_FALSE(recent.isEmpty());
  EXPECT_EQ(recent.front().toStdString(), std::filesystem::absolute(p).string());
}

TEST(ViewerWindow, ADroppedFileIsOpened) {
  const auto dir = test_dir();
  const auto p = dir / "dropped.db";
  { TraceBuilder b(p, 10); }
  ShownWindow sw;
  QEventLoop loop;
  bool loaded = false;
  QObject::connect(&sw.w, &viewer::MainWindow::documentLoaded, &loop, [&] { loaded = true; loop.quit(); });
  QObject::connect(&sw.w, &viewer::MainWindow::loadFailed, &loop, &QEventLoop::quit);
  QTimer::singleShot(120000, &loop, &QEventLoop::quit);
  QMimeData mime;
  mime.setUrls({QUrl::fromLocalFile(QString::fromStdString(p.string()))});
  const QPointF at(400, 300);
  QDragEnterEvent enter(at.toPoint(), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(&sw.w, &enter);
  EXPECT_TRUE(enter.isAccepted());
  QDropEvent drop(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
  QCoreApplication::sendEvent(&sw.w, &drop);
  loop.exec();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(sw.w.document()->path(), p.string());
}

TEST(ViewerWindow, SlashGoesToTheFilterBox) {
  const auto dir = test_dir();
  const auto p = dir / "t.db";
  { TraceBuilder b(p, 10); }
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, p));
  sw.w.activateWindow();
  ASSERT_TRUE(QTest::qWaitForWindowActive(&sw.w));
  sw.w.tree_view()->setFocus();
  QTest::keyClick(sw.w.tree_view(), Qt::Key_Slash);
  auto* box = sw.w.findChild<QLineEdit*>();
  ASSERT_NE(box, nullptr);
  EXPECT_TRUE(box->hasFocus());
  // Typed there, '/' and 'F' are text, not shortcuts.
  QTest::keyClicks(box, "a/F");
  EXPECT_EQ(box->text(), QStringLiteral("a/F"));
}

}  // namespace
}  // namespace ctxscope::testing

namespace ctxscope::testing {
namespace {

TEST(ViewerWindow, FitAndZoomKeysChangeTheLanesScale) {
  const auto dir = test_dir();
  const auto p = dir / "t.db";
  build_ci_job(p);
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, p));
  sw.w.activateWindow();
  ASSERT_TRUE(QTest::qWaitForWindowActive(&sw.w));
  auto* lanes = sw.w.lanes_view();
  lanes->setFocus();
  const double fit = lanes->us_per_px();
  // The whole run in view: nothing to scroll to, so no horizontal scroll bar.
  EXPECT_FALSE(lanes->horizontalScrollBar()->isVisible());
  QTest::keyClick(lanes, Qt::Key_Plus);
  EXPECT_LT(lanes->us_per_px(), fit / 1.2);
  EXPECT_TRUE(lanes->horizontalScrollBar()->isVisible());
  QTest::keyClick(lanes, Qt::Key_Minus);
  QTest::keyClick(lanes, Qt::Key_Minus);
  EXPECT_GT(lanes->us_per_px(), fit * 1.2);
  QTest::keyClick(lanes, Qt::Key_F);
  EXPECT_DOUBLE_EQ(lanes->us_per_px(), fit);
  EXPECT_FALSE(lanes->horizontalScrollBar()->isVisible());
}

TEST(ViewerWindow, AnIncompleteTraceOpensWithTheReadersWarning) {
  const auto dir = test_dir();
  const auto p = dir / "killed.db";
  { TraceBuilder b(p, 50 * kMs, /*complete=*/false); }
  const auto out = dir / "killed.png";
  const auto r = run_cmd(std::string("QT_QPA_PLATFORM=offscreen timeout -k 5 60 '") + CTXSCOPE_VIEWER +
                             "' --screenshot '" + out.string() + "' '" + p.string() + "'",
                         dir);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(out));
  EXPECT_NE(r.err.find("ctxscope-viewer: warning: " + p.string() + ": incomplete trace"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ctxscope::testing

#include <QMessageBox>

namespace ctxscope::testing {
namespace {

TEST(ViewerWindow, InTheGuiABadFileIsADialogNamingTheFileAndTheProblem) {
  const auto dir = test_dir();
  const auto p = dir / "notatrace.db";
  write_file(p, "plain text, not a database\n");
  viewer::MainWindow w;  // dialogs on, as in the GUI
  w.resize(1600, 1000);
  w.show();
  QString title, text;
  // The dialog is modal: find it from inside its own event loop and close it.
  QTimer poll;
  QObject::connect(&poll, &QTimer::timeout, [&] {
    if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
      title = box->windowTitle();
      text = box->text();
      box->accept();
    }
  });
  poll.start(10);
  QString err;
  EXPECT_FALSE(open_and_wait(w, p, &err));
  poll.stop();
  EXPECT_TRUE(title.contains(QStringLiteral("notatrace.db"))) << title.toStdString();
  EXPECT_TRUE(text.startsWith(QString::fromStdString(p.string()) + ": ")) << text.toStdString();
  EXPECT_EQ(text, err);
}

}  // namespace
}  // namespace ctxscope::testing

namespace ctxscope::testing {
namespace {

TEST(ViewerWindow, DetailsOfAWaitAndAThreadSayWhatTheyAre) {
  if (!ci_job().exe) GTEST_SKIP();
  const auto dir = test_dir();
  const auto trace = record_buggy(ci_job(), dir);
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  const auto& doc = *sw.w.document();
  const auto& m = doc.model();
  std::uint32_t stuck = analysis::kNoIndex;
  for (std::uint32_t w = 0; w < m.waits().size(); ++w)
    if (doc.wait_style(w) == viewer::WaitStyle::stuck) stuck = w;
  ASSERT_NE(stuck, analysis::kNoIndex);
  const auto t = m.find_thread(m.waits()[stuck].thread);
  sw.w.select_wait(t, stuck);
  auto text = sw.w.details()->toPlainText();
  EXPECT_TRUE(text.contains("still blocked at the end")) << text.toStdString();
  EXPECT_TRUE(text.contains("no context (blind)")) << text.toStdString();
  EXPECT_TRUE(text.contains("missed")) << text.toStdString();
  EXPECT_EQ(sw.w.lanes_scene()->selected_wait(), stuck);
  // The wait's thread works for the timeout: the tree selects it.
  EXPECT_EQ(sw.w.tree_scene()->selected_context(), m.threads()[t].effective_ctx);
  sw.w.select_thread(t);
  text = sw.w.details()->toPlainText();
  EXPECT_TRUE(text.contains(QString::fromStdString(doc.thread_title(t)))) << text.toStdString();
  EXPECT_TRUE(text.contains("still running at the end")) << text.toStdString();
}

}  // namespace
}  // namespace ctxscope::testing

namespace ctxscope::testing {
namespace {

// A large run (here: the threshold set to this run's size) is painted from
// its first rows while the whole loads: previewShown with a preview document
// holding the run's first contexts, then documentLoaded with the whole run
// and its findings; the preview says it is one.
TEST(ViewerWindow, ALargeRunShowsItsFirstRowsWhileTheWholeLoads) {
  const auto dir = test_dir();
  const auto trace = record_buggy(ci_job(), dir);
  std::string e;
  auto reader = trace::TraceReader::open(trace.string(), &e);
  ASSERT_TRUE(reader) << e;
  const auto events = static_cast<std::uint64_t>(reader->run().events_recorded);
  ShownWindow sw;
  sw.w.loader()->set_preview_min_events(events);  // "large": its first quarter first
  std::vector<std::string> order;
  viewer::DocumentPtr preview;
  QString preview_details;
  QObject::connect(&sw.w, &viewer::MainWindow::previewShown, [&] {
    order.push_back("preview");
    preview = sw.w.document();
    preview_details = sw.w.details()->toPlainText();
  });
  QObject::connect(&sw.w, &viewer::MainWindow::documentLoaded, [&] { order.push_back("whole"); });
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  ASSERT_EQ(order, (std::vector<std::string>{"preview", "whole"}));
  ASSERT_TRUE(preview);
  const auto& whole = *sw.w.document();
  EXPECT_GT(preview->preview(), 0.0);
  EXPECT_EQ(whole.preview(), 0.0);
  EXPECT_TRUE(preview->report().findings.empty());
  EXPECT_FALSE(whole.report().findings.empty());
  EXPECT_NE(preview_details.indexOf("Loading"), -1) << preview_details.toStdString();
  // The preview's contexts are the whole run's first ones.
  ASSERT_LT(preview->model().contexts().size(), whole.model().contexts().size());
  for (std::size_t i = 0; i < preview->model().contexts().size(); ++i)
    EXPECT_EQ(preview->model().contexts()[i].id, whole.model().contexts()[i].id);
  // A run below the threshold loads whole at once.
  order.clear();
  sw.w.loader()->set_preview_min_events(events + 1);
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  EXPECT_EQ(order, (std::vector<std::string>{"whole"}));
}

// A tree of thousands fitted to the view: every node a dot of at least a
// pixel, one per device column (level of detail), and every leak among them
// drawn, larger, in its colour — the leak is seen at a glance.
TEST(ViewerWindow, AFittedTreeOfThousandsShowsEveryLeak) {
  const auto dir = test_dir();
  const auto p = dir / "wide.db";
  std::string err;
  ASSERT_TRUE(trace::start(p.string(), {}, &err)) << err;
  {
    auto [root, cancel_root] = with_cancel(background());
    for (int i = 0; i < 3000; ++i) {
      auto [c, cancel] = with_cancel(root);
      if (i % 600 != 17) cancel();  // else dropped uncalled: a lost cancel
    }
    cancel_root();
  }
  trace::stop();
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, p, nullptr));
  const auto& doc = *sw.w.document();
  auto* view = sw.w.tree_view();
  auto* scene = sw.w.tree_scene();
  view->fit();
  QCoreApplication::processEvents();
  ASSERT_LT(view->transform().m11(), 0.12) << "not the dot level of detail";
  const QImage img = view->viewport()->grab().toImage();
  const QColor leak = viewer::palette::node_fill(viewer::NodeState::leaked);
  int leaks = 0;
  for (std::uint32_t c = 0; c < doc.model().contexts().size(); ++c) {
    if (doc.node_state(c) != viewer::NodeState::leaked || c == scene->selected_context()) continue;
    ++leaks;
    const QPoint at = view->mapFromScene(scene->node_rect(c).topLeft());
    int n = 0;
    for (int y = at.y() - 1; y <= at.y() + 10; ++y)
      for (int x = at.x() - 1; x <= at.x() + 5; ++x)
        n += img.valid(x, y) && img.pixelColor(x, y).rgb() == leak.rgb();
    EXPECT_GE(n, 8) << doc.context_title(c) << " is not drawn as a leak in the fitted tree";
  }
  EXPECT_GE(leaks, 3);
}

// A chain of 3,000 derived contexts (a recursion that derives at each level):
// the window opens it, lays it out and draws it without running out of stack.
TEST(ViewerWindow, ADeepChainOfContextsOpensAndIsDrawn) {
  const auto dir = test_dir();
  const auto p = dir / "deep.db";
  const int n = 2500;  // deeper than the contour layout goes (2,000); the rule engine is quadratic in depth (20,000: minutes)
  {
    TraceBuilder b(p, 100 * kMs);
    b.exec("BEGIN");
    for (int i = 0; i < n; ++i)
      b.ctx({.id = 1024 + i, .parent = i == 0 ? 1 : 1024 + i - 1, .created_ns = i * 1000, .registered = 1,
             .cancel_ns = 50 * kMs, .cancel_reason = i == 0 ? "explicit" : "parent",
             .cancel_origin = i == 0 ? I() : I(1024), .cancel_called_ns = 60 * kMs});
    b.exec("COMMIT");
  }
  ShownWindow sw;
  QString err;
  ASSERT_TRUE(open_and_wait(sw.w, p, &err)) << err.toStdString();
  EXPECT_EQ(sw.w.tree_scene()->drawn().size(), sw.w.document()->model().contexts().size());
  const auto deepest = sw.w.document()->model().find_context(1024 + n - 1);
  sw.w.select_context(deepest);
  (void)sw.w.grab();
  EXPECT_EQ(sw.w.tree_scene()->selected_context(), deepest);
}

}  // namespace
}  // namespace ctxscope::testing
