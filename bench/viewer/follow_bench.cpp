// ctxscope-bench-follow — the viewer following a program that emits events
// at a steady rate (issue 13: 100,000 events/s for 30 s), offscreen, in one
// process:
//
//   ctxscope-bench-follow [SECONDS=30] [EVENTS_PER_S=100000] [TRACE=/tmp/ctxscope-follow-bench.db]
//
//   producer    a thread traced with the real recorder: per unit one
//               with_cancel under a long-lived root and its cancel (3
//               events: create, cancel, release from the root), paced in
//               1 ms slices to EVENTS_PER_S.
//   viewer      a MainWindow following TRACE (TraceFollower's defaults: poll
//               15 ms, publish <= every 30 ms; rules and whole tree layouts
//               on its side thread, each <= a fifth of the time).
//   GUI block   the longest gap between ticks of a 1 ms timer on the GUI
//               thread (what the user feels), and MainWindow::max_update_ms
//               (the GUI time of applying one update).  Each gap over 16 ms
//               is listed with how much of it the GUI thread spent on a CPU
//               (its own work) and waiting for one (the machine's other
//               threads: the traced program, its recorder, the follower),
//               from /proc/thread-self/schedstat.
//   lag         per update shown, two clocks (1,000-unit resolution):
//               from creation — now minus the moment the producer created
//               the newest context that update shows (the recorder's commit
//               interval, then poll, read, publish, apply);
//               from commit (the measure) — now minus the moment a
//               watcher thread, polling the file every 1 ms on its own
//               SQLite connection, first saw that context committed.
//   memory      process RSS before and after, per event recorded.
//   CTXSCOPE_BENCH_EVENTS=1 adds where the GUI thread's time went, by
//               receiver and event type (the paints nested in an update).
#include <QApplication>
#include <QElapsedTimer>
#include <QScrollBar>
#include <QThread>
#include <QTimer>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "bench_util.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/trace.hpp"
#include "main_window.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using ctxscope::bench::rss_kb;

double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 30.0;
  const double rate = argc > 2 ? std::atof(argv[2]) : 100000.0;
  const std::string path = argc > 3 ? argv[3] : "/tmp/ctxscope-follow-bench.db";
  if (!std::getenv("QT_QPA_PLATFORM")) setenv("QT_QPA_PLATFORM", "offscreen", 1);
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  // CTXSCOPE_BENCH_EVENTS=1: where the GUI thread's time goes, per receiver
  // class and event (paints, update requests, queued calls, timers), nested
  // deliveries under their parent (scroll bars named by orientation and view).
  struct TimedApp : QApplication {
    using QApplication::QApplication;
    bool on = std::getenv("CTXSCOPE_BENCH_EVENTS") != nullptr;
    std::map<std::string, std::pair<double, double>> t;  // total, max ms
    std::vector<std::string> stack;
    bool notify(QObject* o, QEvent* e) override {
      const auto ty = e->type();
      if (!on || QThread::currentThread() != thread() ||
          (ty != QEvent::Paint && ty != QEvent::UpdateRequest && ty != QEvent::MetaCall && ty != QEvent::Timer))
        return QApplication::notify(o, e);
      std::string name = std::string(o->metaObject()->className()) + "/" + std::to_string(static_cast<int>(ty));
      if (auto* bar = qobject_cast<QScrollBar*>(o)) {  // parent: the scroll area's container; its parent: the view
        name += bar->orientation() == Qt::Horizontal ? " horizontal in " : " vertical in ";
        name += bar->parent() && bar->parent()->parent() ? bar->parent()->parent()->metaObject()->className() : "?";
      }
      const std::string key = stack.empty() ? name : name + " in " + stack.back();
      QElapsedTimer c;
      c.start();
      stack.push_back(name);
      const bool r = QApplication::notify(o, e);
      stack.pop_back();
      const double ms = static_cast<double>(c.nsecsElapsed()) / 1e6;
      auto& x = t[key];
      x.first += ms;
      x.second = std::max(x.second, ms);
      return r;
    }
  };
  TimedApp app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("ctxscope-bench"));

  std::string err;
  if (!ctxscope::trace::start(path, {}, &err)) {
    std::fprintf(stderr, "ctxscope-bench-follow: %s\n", err.c_str());
    return 2;
  }
  auto [root, root_cancel] = ctxscope::with_cancel(ctxscope::background());
  ctxscope::trace::flush();

  ctxscope::viewer::MainWindow w;
  w.set_dialogs(false);
  w.resize(1600, 1000);
  w.show();
  QCoreApplication::processEvents();
  const long rss0 = rss_kb();

  // Producer: units of (with_cancel + cancel); stamp[k] = when unit k*1000 was created.
  constexpr double kEventsPerUnit = 3;
  const auto units_total = static_cast<std::size_t>(seconds * rate / kEventsPerUnit);
  std::vector<std::atomic<std::int64_t>> stamp(units_total / 1000 + 2);
  std::vector<std::atomic<std::uint64_t>> stamp_id(units_total / 1000 + 2);  // that unit's context id
  std::vector<std::atomic<std::int64_t>> seen(units_total / 1000 + 2);       // when it was first seen committed
  std::atomic<std::size_t> made{0};
  std::atomic<bool> go{false}, done{false};
  std::thread producer([&] {
    while (!go.load()) std::this_thread::yield();
    const auto t0 = Clock::now();
    const double units_per_ms = rate / kEventsPerUnit / 1000.0;
    std::size_t u = 0;
    for (std::size_t slice = 0; u < units_total; ++slice) {
      const auto target = static_cast<std::size_t>(units_per_ms * static_cast<double>(slice + 1));
      for (; u < std::min(target, units_total); ++u) {
        auto [c, cancel] = ctxscope::with_cancel(root);
        if (u % 1000 == 0) {
          stamp_id[u / 1000].store(c.id(), std::memory_order_relaxed);
          stamp[u / 1000].store(now_ns(), std::memory_order_release);
        }
        cancel();
        made.store(u + 1, std::memory_order_release);
      }
      std::this_thread::sleep_until(t0 + std::chrono::microseconds(1000 * (slice + 1)));
    }
    done.store(true);
  });

  // Commit watcher: every 1 ms, the largest committed context id (an index
  // lookup on its own read connection) against the stamped units' ids.
  std::thread watcher([&] {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return;
    sqlite3_stmt* q = nullptr;
    sqlite3_prepare_v2(db, "SELECT max(id) FROM contexts", -1, &q, nullptr);
    std::size_t next = 0;  // the first stamped unit not yet seen
    while (!done.load() || next < stamp.size()) {
      if (!q || sqlite3_step(q) != SQLITE_ROW) break;
      const auto max_id = static_cast<std::uint64_t>(sqlite3_column_int64(q, 0));
      sqlite3_reset(q);
      const auto t = now_ns();
      for (; next < stamp.size() && stamp[next].load(std::memory_order_acquire) != 0 &&
             stamp_id[next].load(std::memory_order_relaxed) <= max_id;
           ++next)
        seen[next].store(t, std::memory_order_relaxed);
      if (done.load() && (next >= stamp.size() || stamp[next].load(std::memory_order_acquire) == 0)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
  });

  // GUI thread: 1 ms ticks (their gaps = how long the event loop was blocked), updates and their lag.
  std::size_t base = 0;
  bool started = false, ended = false;
  std::size_t updates = 0;
  struct Stall {
    double at_s, ms;
    std::size_t updates;
    double cpu_ms, runq_ms;  // of it, on a CPU and waiting for one (/proc schedstat); the rest asleep
  };
  // The GUI thread's time on a CPU and waiting for one so far (ns), from /proc/thread-self/schedstat.
  struct Sched {
    unsigned long long on_cpu = 0, waited = 0;
  };
  const auto sched = [] {
    Sched s;
    if (FILE* f = std::fopen("/proc/thread-self/schedstat", "r")) {
      if (std::fscanf(f, "%llu %llu", &s.on_cpu, &s.waited) != 2) s = {};
      std::fclose(f);
    }
    return s;
  };
  Sched last_sched;
  std::vector<Stall> stalls;  // gaps over 16 ms: when, how long, after how many updates
  QElapsedTimer run_clock;
  std::vector<double> gaps, lags, commit_lags;
  double max_gap = 0;
  QElapsedTimer tick_clock;
  QTimer ticker;
  ticker.setTimerType(Qt::PreciseTimer);
  ticker.setInterval(1);
  QObject::connect(&ticker, &QTimer::timeout, [&] {
    if (tick_clock.isValid()) {
      const double g = static_cast<double>(tick_clock.nsecsElapsed()) / 1e6;
      gaps.push_back(g);
      max_gap = std::max(max_gap, g);
      const auto d = sched();
      if (g > 16.0)
        stalls.push_back({static_cast<double>(run_clock.elapsed()) / 1000.0, g, updates,
                          static_cast<double>(d.on_cpu - last_sched.on_cpu) / 1e6,
                          static_cast<double>(d.waited - last_sched.waited) / 1e6});
      last_sched = d;
    } else {
      last_sched = sched();
    }
    tick_clock.start();
  });
  QObject::connect(&w, &ctxscope::viewer::MainWindow::documentUpdated, [&] {
    const auto n = w.document()->model().contexts().size();
    if (!started) {  // the first document: the producer starts now
      started = true;
      base = n;
      go.store(true);
      run_clock.start();
      ticker.start();
      return;
    }
    ++updates;
    if (n > base) {
      const std::size_t newest = n - base - 1;  // index of the newest unit shown
      const auto s = stamp[newest / 1000].load(std::memory_order_relaxed);
      const auto t = now_ns();
      if (s) lags.push_back(static_cast<double>(t - s) / 1e6);
      const auto c = seen[newest / 1000].load(std::memory_order_relaxed);
      if (c) commit_lags.push_back(static_cast<double>(std::max<std::int64_t>(0, t - c)) / 1e6);
    }
    if (w.run_state() != ctxscope::viewer::TraceFollower::RunState::running) {
      ended = true;
      QCoreApplication::quit();
    }
  });
  QTimer stopper;
  QObject::connect(&stopper, &QTimer::timeout, [&] {
    if (done.load() && !ended) {
      stopper.stop();
      ticker.stop();
      producer.join();
      root_cancel();
      ctxscope::trace::stop();  // the end marker: the follower sees "ended"
    }
  });
  stopper.start(20);
  w.follow(QString::fromStdString(path));
  const auto wall0 = Clock::now();
  app.exec();
  if (producer.joinable()) producer.join();
  watcher.join();
  const double wall = std::chrono::duration<double>(Clock::now() - wall0).count();
  const long rss1 = rss_kb();
  if (app.on) {
    std::vector<std::pair<std::string, std::pair<double, double>>> v(app.t.begin(), app.t.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
    std::printf("GUI thread by event (receiver/event type [in its parent delivery]), top 20:\n");
    for (std::size_t i = 0; i < std::min<std::size_t>(20, v.size()); ++i)
      std::printf("  total %8.1f ms  max %6.2f ms  %s\n", v[i].second.first, v[i].second.second, v[i].first.c_str());
  }
  const auto& doc = *w.document();
  const auto events = doc.model().run().events;
  std::printf("follow: %.0f s at %.0f events/s requested: %llu events in the trace, %zu contexts, %zu updates shown; "
              "wall %.1f s; load average %s",
              seconds, rate, static_cast<unsigned long long>(events), doc.model().contexts().size(), updates, wall,
              [] {
                static char b[64] = "?";
                if (FILE* f = std::fopen("/proc/loadavg", "r")) {
                  if (!std::fgets(b, sizeof b, f)) b[0] = 0;
                  std::fclose(f);
                }
                return b;
              }());
  std::printf("  GUI thread blocked (1 ms timer gaps)    max %7.1f ms  p99 %6.1f ms  (target: never > 16 ms)\n", max_gap,
              pct(gaps, 0.99));
  std::printf("  stalls over 16 ms: %zu;", stalls.size());
  for (const auto& st : stalls)
    std::printf(" %.1f ms at %.2f s (after %zu updates; on a CPU %.1f ms, waiting for one %.1f ms);", st.ms, st.at_s,
                st.updates, st.cpu_ms, st.runq_ms);
  std::printf("\n");
  std::printf("  one update applied on the GUI thread    max %7.1f ms\n", w.max_update_ms());
  std::printf("  lag commit -> on screen                 median %6.1f ms  p99 %6.1f ms  max %6.1f ms  (target p99 <= 100 ms)\n",
              pct(commit_lags, 0.5), pct(commit_lags, 0.99),
              commit_lags.empty() ? 0.0 : *std::max_element(commit_lags.begin(), commit_lags.end()));
  std::printf("  lag creation -> on screen               median %6.1f ms  p99 %6.1f ms  max %6.1f ms  (recorder's commit interval included)\n",
              pct(lags, 0.5), pct(lags, 0.99), lags.empty() ? 0.0 : *std::max_element(lags.begin(), lags.end()));
  std::printf("  memory                                  %.1f MB -> %.1f MB RSS: %.0f bytes/event (model's own count %.1f MB)\n",
              rss0 / 1024.0, rss1 / 1024.0, events ? (rss1 - rss0) * 1024.0 / static_cast<double>(events) : 0.0,
              doc.model().memory_bytes() / 1e6);
  return 0;
}
