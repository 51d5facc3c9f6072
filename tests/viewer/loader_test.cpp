// The worker-thread loader: typed signals, cancel, supersede.
#include <QSignalSpy>

#include "ctxscope/viewer/trace_loader.hpp"
#include "scenario_traces.hpp"
#include "viewer_support.hpp"

namespace ctxscope::testing {
namespace {

using viewer::TraceLoader;

/// Runs the event loop until one of the loader's final signals came (bounded).
void wait_final(TraceLoader& l, int& finals) {
  QEventLoop loop;
  auto quit = [&] { ++finals; loop.quit(); };
  auto a = QObject::connect(&l, &TraceLoader::loaded, &loop, quit);
  auto b = QObject::connect(&l, &TraceLoader::failed, &loop, quit);
  auto c = QObject::connect(&l, &TraceLoader::cancelled, &loop, quit);
  QTimer::singleShot(120000, &loop, &QEventLoop::quit);
  loop.exec();
  QObject::disconnect(a);
  QObject::disconnect(b);
  QObject::disconnect(c);
}

TEST(ViewerLoader, LoadsOnTheWorkerAndDeliversTheDocumentOnTheCallersThread) {
  const auto dir = test_dir();
  build_ci_job(dir / "t.db");
  TraceLoader l;
  QSignalSpy loaded(&l, &TraceLoader::loaded), failed(&l, &TraceLoader::failed);
  QThread* delivered_on = nullptr;
  QObject::connect(&l, &TraceLoader::loaded, &l, [&] { delivered_on = QThread::currentThread(); });
  l.load(QString::fromStdString((dir / "t.db").string()));
  EXPECT_TRUE(l.busy());
  int finals = 0;
  wait_final(l, finals);
  ASSERT_EQ(loaded.count(), 1);
  EXPECT_EQ(failed.count(), 0);
  EXPECT_EQ(delivered_on, QThread::currentThread());
  const auto doc = loaded.at(0).at(0).value<viewer::DocumentPtr>();
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->model().contexts().size(), 3u);
  EXPECT_FALSE(doc->report().findings.empty());
  EXPECT_FALSE(l.busy());
}

TEST(ViewerLoader, ACancelledLoadReportsCancelledAndNeverLoaded) {
  const auto dir = test_dir();
  build_fanout(dir / "t.db");
  TraceLoader l;
  QSignalSpy loaded(&l, &TraceLoader::loaded), cancelled(&l, &TraceLoader::cancelled);
  l.load(QString::fromStdString((dir / "t.db").string()));
  l.cancel();  // before the worker can have delivered: the result is dropped whatever its progress
  int finals = 0;
  wait_final(l, finals);
  EXPECT_EQ(cancelled.count(), 1);
  EXPECT_EQ(loaded.count(), 0);
}

TEST(ViewerLoader, ALaterLoadSupersedesAnEarlierOne) {
  const auto dir = test_dir();
  build_fanout(dir / "a.db");
  build_ci_job(dir / "b.db");
  TraceLoader l;
  QSignalSpy loaded(&l, &TraceLoader::loaded), cancelled(&l, &TraceLoader::cancelled);
  l.load(QString::fromStdString((dir / "a.db").string()));
  l.load(QString::fromStdString((dir / "b.db").string()));
  int finals = 0;
  wait_final(l, finals);
  ASSERT_EQ(loaded.count(), 1);
  EXPECT_EQ(cancelled.count(), 0);  // the superseded load says nothing
  EXPECT_EQ(loaded.at(0).at(0).value<viewer::DocumentPtr>()->path(), (dir / "b.db").string());
}

TEST(ViewerLoader, ABadFileFailsWithOneLineNamingIt) {
  const auto dir = test_dir();
  write_file(dir / "x.db", "not a database\n");
  TraceLoader l;
  QSignalSpy failed(&l, &TraceLoader::failed);
  l.load(QString::fromStdString((dir / "x.db").string()));
  int finals = 0;
  wait_final(l, finals);
  ASSERT_EQ(failed.count(), 1);
  const auto msg = failed.at(0).at(1).toString().toStdString();
  EXPECT_EQ(msg.rfind((dir / "x.db").string() + ": ", 0), 0u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace ctxscope::testing
