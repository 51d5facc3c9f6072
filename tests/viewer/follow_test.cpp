// Live follow: the window follows a trace while the real recorder writes it.
// A worker thread of this test creates contexts and waits step by step; each
// step ends with trace::flush() (every event before it committed) and hands
// the step's context id to the test over a channel — no sleeps order
// anything.  Every committed context appears in the followed document, in
// the order of the steps; the waits appear; the end of the run is detected;
// the last document equals a fresh load of the finished file.  A writer
// killed with SIGKILL (a child process: this binary, re-run as the writer)
// gives an incomplete run, labelled so, not an error.
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QLabel>
#include <QProcess>
#include <QStatusBar>
#include <algorithm>
#include <functional>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/trace.hpp"
#include "viewer_support.hpp"

namespace ctxscope::testing {
namespace {

using analysis::kNoIndex;
using viewer::TraceFollower;

/// Runs the event loop until `pred` holds, checked after each document update
/// of `w` (bounded: false after `limit_ms`, a failure, never a pause for ordering).
bool run_until(viewer::MainWindow& w, const std::function<bool()>& pred, int limit_ms = 20000) {
  if (pred()) return true;
  QEventLoop loop;
  auto c = QObject::connect(&w, &viewer::MainWindow::documentUpdated, &loop, [&] {
    if (pred()) loop.quit();
  });
  auto f = QObject::connect(w.follower(), &TraceFollower::failed, &loop, [&] { loop.quit(); });
  QTimer guard;
  guard.setSingleShot(true);
  QObject::connect(&guard, &QTimer::timeout, &loop, &QEventLoop::quit);
  guard.start(limit_ms);
  loop.exec();
  QObject::disconnect(c);
  QObject::disconnect(f);
  return pred();
}

std::string status_text(viewer::MainWindow& w) {
  std::string s;
  for (auto* l : w.statusBar()->findChildren<QLabel*>()) s += l->text().toStdString() + " ";
  return s;
}

TEST(ViewerLiveFollow, EveryCommittedContextAndWaitAppearsInOrderAndTheEndIsDetected) {
  const auto dir = test_dir();
  const auto db = dir / "live.db";
  std::string err;
  ASSERT_TRUE(trace::start(db.string(), {}, &err)) << err;
  ShownWindow sw;
  std::vector<viewer::DocumentPtr> docs;
  QObject::connect(&sw.w, &viewer::MainWindow::documentUpdated, &sw.w, [&] { docs.push_back(sw.w.document()); });
  sw.w.follow(QString::fromStdString(db.string()));

  constexpr int kSteps = 12;
  Chan<std::uint64_t> step_done(0, "step.done");  // unbuffered: the worker's send and our recv are waits
  std::vector<std::uint64_t> ids;
  std::thread worker([&] {
    auto [root, cancel_root] = with_cancel(background());
    std::vector<CancelFunc> cancels;
    for (int k = 0; k < kSteps; ++k) {
      auto [c, cancel] = with_cancel(root);
      if (k % 3 == 2) cancel();  // some cancels too
      cancels.push_back(cancel);
      trace::flush();  // barrier: this step's context is committed
      step_done.send(c.id());
    }
    cancel_root();  // the wave through every step's context
    trace::flush();
    step_done.close();
  });
  QElapsedTimer lag;
  std::vector<double> lags_ms;
  for (int k = 0; k < kSteps; ++k) {
    const auto id = step_done.recv();
    ASSERT_TRUE(id.has_value());
    lag.start();
    ids.push_back(*id);
    const bool seen = run_until(sw.w, [&] {
      const auto& d = sw.w.document();
      return d && d->model().find_context(*id) != kNoIndex;
    });
    ASSERT_TRUE(seen) << "step " << k << ": ctx#" << *id << " committed but not shown";
    lags_ms.push_back(static_cast<double>(lag.elapsed()));
    // The tree grew with it: drawn.
    EXPECT_TRUE(sw.w.tree_scene()->is_drawn(sw.w.document()->model().find_context(*id)));
  }
  EXPECT_FALSE(step_done.recv().has_value());
  worker.join();
  EXPECT_EQ(sw.w.run_state(), TraceFollower::RunState::running);
  trace::stop();
  ASSERT_TRUE(run_until(sw.w, [&] { return sw.w.run_state() == TraceFollower::RunState::ended; }))
      << "the end of the run was not detected";
  EXPECT_NE(status_text(sw.w).find("run ended"), std::string::npos) << status_text(sw.w);

  // In order: in every published document, the steps present are a prefix of the steps.
  for (const auto& d : docs) {
    bool gap = false;
    for (auto id : ids) {
      const bool here = d->model().find_context(id) != kNoIndex;
      EXPECT_FALSE(here && gap) << "ctx#" << id << " shown before an earlier step's context";
      gap |= !here;
    }
  }
  // The last document is the finished file: every context and wait, the cancel wave.
  std::string e;
  const auto fresh = viewer::load_document(db.string(), &e);
  ASSERT_TRUE(fresh) << e;
  const auto& last = *sw.w.document();
  ASSERT_EQ(last.model().contexts().size(), fresh->model().contexts().size());
  ASSERT_EQ(last.model().waits().size(), fresh->model().waits().size());
  EXPECT_GE(last.model().waits().size(), static_cast<std::size_t>(kSteps)) << "the channel's waits are missing";
  for (std::uint32_t i = 0; i < fresh->model().waits().size(); ++i)
    EXPECT_NE(last.model().find_wait(fresh->model().waits()[i].id), kNoIndex);
  for (std::uint32_t i = 0; i < fresh->model().contexts().size(); ++i) {
    const auto j = last.model().find_context(fresh->model().contexts()[i].id);
    ASSERT_NE(j, kNoIndex);
    EXPECT_EQ(last.node_state(j), fresh->node_state(i));
  }
  EXPECT_TRUE(last.model().run().complete);
  EXPECT_EQ(last.report().findings.size(), fresh->report().findings.size());
  std::sort(lags_ms.begin(), lags_ms.end());
  std::printf(
      "[ follow  ] commit → document lag over %d steps: median %.0f ms, max %.0f ms; %zu documents; "
      "longest update on the GUI thread %.2f ms\n",
      kSteps, lags_ms[lags_ms.size() / 2], lags_ms.back(), docs.size(), sw.w.max_update_ms());
}

// The writer of the next test, run in a child process (this binary).
TEST(ViewerLiveFollowChild, WritesATraceAndWaitsToBeKilled) {
  const char* path = std::getenv("CTXSCOPE_FOLLOW_CHILD");
  if (!path) GTEST_SKIP() << "only as the writer of ViewerLiveFollow.AKilledWriterIsAnIncompleteRunNotAnError";
  std::string err;
  ASSERT_TRUE(trace::start(path, {}, &err)) << err;
  auto [c, cancel] = with_cancel(background());
  auto [d, cancel_d] = with_cancel(c);
  cancel_d();
  trace::flush();
  std::printf("ready %llu\n", static_cast<unsigned long long>(d.id()));
  std::fflush(stdout);
  (void)std::getchar();  // until killed (the parent never writes)
}

TEST(ViewerLiveFollow, AKilledWriterIsAnIncompleteRunNotAnError) {
  const auto dir = test_dir();
  const auto db = dir / "killed.db";
  QProcess child;
  auto env = QProcessEnvironment::systemEnvironment();
  env.insert("CTXSCOPE_FOLLOW_CHILD", QString::fromStdString(db.string()));
  env.remove("CTXSCOPE_TRACE");
  child.setProcessEnvironment(env);
  child.start(QCoreApplication::applicationFilePath(),
              {QStringLiteral("--gtest_filter=ViewerLiveFollowChild.WritesATraceAndWaitsToBeKilled")});
  ASSERT_TRUE(child.waitForStarted(20000));
  QByteArray out;
  while (!out.contains("ready ") || !out.endsWith('\n')) {
    ASSERT_TRUE(child.waitForReadyRead(30000)) << "the writer did not get ready: " << out.toStdString();
    out += child.readAllStandardOutput();
  }
  const auto id = out.mid(out.indexOf("ready ") + 6).trimmed().toULongLong();
  ShownWindow sw;
  sw.w.follow(QString::fromStdString(db.string()));
  ASSERT_TRUE(run_until(sw.w, [&] {
    const auto& d = sw.w.document();
    return d && d->model().find_context(id) != kNoIndex;
  })) << "the writer's committed context is not shown";
  EXPECT_EQ(sw.w.run_state(), TraceFollower::RunState::running);
  child.kill();  // SIGKILL: no end marker
  ASSERT_TRUE(child.waitForFinished(20000));
  ASSERT_TRUE(run_until(sw.w, [&] { return sw.w.run_state() == TraceFollower::RunState::died; }))
      << "a killed writer is not detected";
  ASSERT_TRUE(sw.w.document());
  EXPECT_FALSE(sw.w.document()->model().run().complete);
  EXPECT_NE(sw.w.document()->model().find_context(id), kNoIndex);
  EXPECT_NE(status_text(sw.w).find("incomplete run"), std::string::npos) << status_text(sw.w);
}

}  // namespace
}  // namespace ctxscope::testing

namespace ctxscope::testing {
namespace {

// `ctxscope run --view -- prog`: the viewer is started following the run's
// trace (here a stand-in viewer, $CTXSCOPE_VIEWER, that hands its arguments
// to the test through a FIFO: no sleep orders it), and the run is still
// traced and analysed as without --view.
TEST(ViewerRunView, StartsTheViewerFollowingTheRunsTrace) {
  const Sample* s = nullptr;
  for (const auto& x : kSamples)
    if (x.exe) s = &x;
  if (!s) GTEST_SKIP() << "no scenario is built";
  const auto dir = test_dir();
  const auto fifo = dir / "viewer.args", fake = dir / "fake-viewer.sh", trace = dir / "run.db";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  {
    std::ofstream f(fake);
    f << "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" << fifo.string() << "'\n";
  }
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  const auto r = run_cmd("CTXSCOPE_VIEWER='" + fake.string() + "' '" + cli() + "' run --view --trace '" +
                             trace.string() + "' -- '" + s->exe + "' --mode=fixed",
                         dir);
  EXPECT_TRUE(r.code == 0 || r.code == 1) << r.err;  // analysed (1: findings)
  EXPECT_TRUE(std::filesystem::exists(trace));
  const auto args = run_cmd("timeout 30 cat '" + fifo.string() + "'", dir);
  ASSERT_EQ(args.code, 0) << "the viewer was not started";
  EXPECT_EQ(args.out, "--follow\n" + trace.string() + "\n");
}

}  // namespace
}  // namespace ctxscope::testing
