// ctxscope-bench-viewer — the viewer's figures (issue 12 targets, reported in
// docs/performance.md#viewer), side by side in one run, offscreen:
//
//   ctxscope-bench-viewer TRACE_1M.db [TREE_TRACE.db] [REPEATS]
//
//   open → first paint  MainWindow::open until the run is first on screen:
//                       previewShown (a large run's first rows, loaded
//                       before the whole; load_document) or else
//                       documentLoaded, then one full paint of the window
//                       (grab), vs one scan of the stored events
//                       (bench_util.hpp) on the same file; alternating, medians.
//                       CTXSCOPE_BENCH_FIRST_PAINT_PNG=F saves that paint
//                       (CTXSCOPE_BENCH_TREE_PNG=F: the window with the
//                       TREE_TRACE tree fitted).
//   open → whole run    the same until documentLoaded (the whole run and its
//                       findings) and its paint.
//   lanes frame time    repaint() of the lanes viewport (QElapsedTimer around
//                       it) while zooming from the whole run in to ~1 µs/px
//                       and panning, at the 1M trace.
//   tree frame time     the same for the tree view at TREE_TRACE (every
//                       context drawn: 10,000 for `ctxscope-gen-trace T 105000`),
//                       fitted (all visible) and at natural size while panning.
//   seek                the playback cursor to a random time of the 1M-event
//                       run, both views repainted (QElapsedTimer around both)
//   playback frame      a playback step (the cursor to the next moment, or a
//                       16 ms tick at 1x) plus the repaint of the tree
//                       (fitted: every context visible) and the lanes, at TREE_TRACE.
//   memory              RSS of the process with the 1M document open.
// Build in Release (-DCMAKE_BUILD_TYPE=Release); traces from ctxscope-gen-trace.
#include <sqlite3.h>

#include <QApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QScrollBar>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "ctxscope/analysis/analyzer.hpp"
#include "ctxscope/trace_reader.hpp"
#include "main_window.hpp"

namespace {

using ctxscope::bench::Clock;
using ctxscope::bench::median;
using ctxscope::bench::ms_since;
using ctxscope::bench::rss_kb;
double pct(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))];
}
double scan_ms(const std::string& path, long long* events) {
  const auto t0 = Clock::now();
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  *events = ctxscope::bench::scan_events(db);
  sqlite3_close(db);
  return ms_since(t0);
}

// Opens `path`; `first` = ms from the open until the first document (a
// preview or the whole) was painted, returns false on an error.
bool open_wait(ctxscope::viewer::MainWindow& w, const std::string& path, double* first = nullptr) {
  QEventLoop loop;
  bool ok = false;
  const auto t0 = Clock::now();
  auto painted = [&] {
    const QPixmap shot = w.grab();  // the first paint of the whole window
    if (first && *first < 0) {
      *first = ms_since(t0);
      // What that first paint shows, for a person to look at.
      if (const char* png = std::getenv("CTXSCOPE_BENCH_FIRST_PAINT_PNG")) shot.save(QString::fromLocal8Bit(png));
    }
  };
  if (first) *first = -1;
  auto p = QObject::connect(&w, &ctxscope::viewer::MainWindow::previewShown, &loop, painted);
  auto a = QObject::connect(&w, &ctxscope::viewer::MainWindow::documentLoaded, &loop, [&] {
    ok = true;
    painted();
    loop.quit();
  });
  auto b = QObject::connect(&w, &ctxscope::viewer::MainWindow::loadFailed, &loop, [&](const QString& m) {
    std::fprintf(stderr, "%s\n", m.toStdString().c_str());
    loop.quit();
  });
  w.open(QString::fromStdString(path));
  loop.exec();
  QObject::disconnect(a);
  QObject::disconnect(b);
  QObject::disconnect(p);
  return ok;
}

template <class View>
double frame_ms(View* v) {
  QElapsedTimer t;
  t.start();
  v->viewport()->repaint();
  return static_cast<double>(t.nsecsElapsed()) / 1e6;
}

void report(const char* what, const std::vector<double>& f, int target_ms = 16) {
  std::printf("  %-44s median %6.2f ms  p95 %6.2f ms  max %6.2f ms  (%zu frames; target <= %d ms)\n", what, median(f),
              pct(f, 0.95), *std::max_element(f.begin(), f.end()), f.size(), target_ms);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: ctxscope-bench-viewer TRACE_1M.db [TREE_TRACE.db] [REPEATS]\n");
    return 2;
  }
  if (!std::getenv("QT_QPA_PLATFORM")) setenv("QT_QPA_PLATFORM", "offscreen", 1);
  const std::string big = argv[1];
  const std::string tree = argc >= 3 ? argv[2] : "";
  const int reps = argc >= 4 ? std::max(1, std::atoi(argv[3])) : 3;
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("ctxscope-bench"));

  const long rss0 = rss_kb();
  std::vector<double> scan, open, whole;
  long long events = 0;
  long rss_open = 0;
  auto* w = new ctxscope::viewer::MainWindow;
  w->set_dialogs(false);
  w->resize(1600, 1000);
  w->show();
  QCoreApplication::processEvents();
  for (int i = 0; i < reps; ++i) {
    scan.push_back(scan_ms(big, &events));
    const auto t0 = Clock::now();
    double first = -1;
    if (!open_wait(*w, big, &first)) return 2;
    whole.push_back(ms_since(t0));
    open.push_back(first);
    rss_open = std::max(rss_open, rss_kb());
  }
  const auto& doc = *w->document();
  std::printf("viewer: %s: %lld events, %zu contexts, %zu threads, %zu waits, %zu findings; %d runs, medians\n",
              big.c_str(), events, doc.model().contexts().size(), doc.model().threads().size(),
              doc.model().waits().size(), doc.report().findings.size(), reps);
  const double s = median(scan), o = median(open);
  std::printf("  scan of events (sqlite3)                    %8.1f ms\n", s);
  std::printf("  open -> first paint                         %8.1f ms   %.2fx the scan (target <= 2x)%s\n", o, o / s,
              doc.model().run().events >= ctxscope::viewer::kPreviewMinEvents ? "  (a preview: the run's first rows)" : "");
  std::printf("  open -> whole run and findings painted      %8.1f ms   %.2fx the scan\n", median(whole), median(whole) / s);
  std::printf("  resident with the document open             %8.1f MB   (process RSS; %.1f MB before; model's own count %.1f MB; target <= 500 MB)\n",
              rss_open / 1024.0, rss0 / 1024.0, doc.model().memory_bytes() / 1e6);

  // Where the open time goes: the same stages run directly, one after the other.
  {
    std::vector<double> model, rules, build;
    for (int i = 0; i < reps; ++i) {
      std::string err;
      auto t0 = Clock::now();
      auto r = ctxscope::trace::TraceReader::open(big, &err, false);
      auto m = ctxscope::analysis::TraceModel::load(r->db());
      model.push_back(ms_since(t0));
      t0 = Clock::now();
      auto rep = ctxscope::analysis::analyze(r->db(), ctxscope::analysis::Options{});
      rules.push_back(ms_since(t0));
      t0 = Clock::now();
      ctxscope::viewer::TraceDocument d(big, std::move(m), std::move(rep), {});
      build.push_back(ms_since(t0));
    }
    std::printf("    whole, of which: reader + TraceModel::load %8.1f ms\n", median(model));
    std::printf("              analyze() (the rules)             %8.1f ms   (on its own connection, beside the model load)\n",
                median(rules));
    std::printf("              TraceDocument (colours, lanes)    %8.1f ms\n", median(build));
    std::printf("              the window (models, layout, paint) ~%6.1f ms (whole - max(model, rules) - document)\n",
                median(whole) - std::max(median(model), median(rules)) - median(build));
  }

  // Lanes: fit, zoom in step by step to ~1 µs/px, pan, zoom out.
  {
    auto* v = w->lanes_view();
    v->fit();
    std::vector<double> f;
    f.push_back(frame_ms(v));
    while (v->us_per_px() > 1.0) {
      v->zoom_by(1.5);
      f.push_back(frame_ms(v));
    }
    for (int i = 0; i < 40; ++i) {
      v->horizontalScrollBar()->setValue(v->horizontalScrollBar()->value() + 200);
      f.push_back(frame_ms(v));
    }
    for (int i = 0; i < 20; ++i) {
      v->verticalScrollBar()->setValue(v->verticalScrollBar()->value() + 300);
      f.push_back(frame_ms(v));
    }
    v->fit();
    for (int i = 0; i < 20; ++i) {
      v->horizontalScrollBar()->setValue(v->horizontalScrollBar()->value() + 37);
      f.push_back(frame_ms(v));
    }
    report("lanes zoom/pan, 1M events", f);
  }

  // Seek (issue 13): the cursor jumps to a random time of the 1M-event run and
  // both views repaint the state there (target <= 50 ms).
  {
    auto* pb = w->playback();
    w->lanes_view()->fit();
    w->tree_view()->fit();
    std::uint64_t x = 0x9e3779b97f4a7c15ull;  // a fixed sequence of times
    std::vector<double> f;
    for (int i = 0; i < 30; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      const std::int64_t t = pb->begin_ns() + static_cast<std::int64_t>(x % static_cast<std::uint64_t>(
                                                  std::max<std::int64_t>(1, pb->end_ns() - pb->begin_ns())));
      QElapsedTimer tm;
      tm.start();
      pb->seek(t);
      w->tree_view()->viewport()->repaint();
      w->lanes_view()->viewport()->repaint();
      f.push_back(static_cast<double>(tm.nsecsElapsed()) / 1e6);
    }
    report("seek to a random t, 1M events, tree+lanes", f, 50);
  }

  if (!tree.empty()) {
    if (!open_wait(*w, tree)) return 2;
    auto* v = w->tree_view();
    std::printf("  tree: %s: %zu contexts drawn\n", tree.c_str(), w->tree_scene()->drawn().size());
    v->fit();
    std::vector<double> fit, natural;
    for (int i = 0; i < 20; ++i) {
      v->horizontalScrollBar()->setValue(v->horizontalScrollBar()->value() + (i % 2 ? -20 : 20));
      fit.push_back(frame_ms(v));
    }
    for (int i = 0; i < 10; ++i) {
      v->zoom_by(1.25);
      fit.push_back(frame_ms(v));
    }
    v->setTransform(QTransform());
    for (int i = 0; i < 60; ++i) {
      v->horizontalScrollBar()->setValue(v->horizontalScrollBar()->value() + 400);
      natural.push_back(frame_ms(v));
    }
    report("tree fitted + zooming, all visible", fit);
    report("tree at natural size, panning", natural);

    // Playback (issue 13): one frame = the cursor moves (a step to the next
    // moment, or 1x/100x of recorded time per 16 ms) and both views repaint
    // the state at t, with every context of the tree visible (fitted).
    v->fit();
    w->lanes_view()->fit();
    // The fitted tree (every context a dot), for a person to look at.
    if (const char* png = std::getenv("CTXSCOPE_BENCH_TREE_PNG")) w->grab().save(QString::fromLocal8Bit(png));
    auto* pb = w->playback();
    const auto steps_of = [&](auto&& move) {
      std::vector<double> f;
      pb->seek(pb->begin_ns() + (pb->end_ns() - pb->begin_ns()) / 10);
      for (int i = 0; i < 120 && !pb->at_end(); ++i) {
        QElapsedTimer t;
        t.start();
        move();
        v->viewport()->repaint();
        w->lanes_view()->viewport()->repaint();
        f.push_back(static_cast<double>(t.nsecsElapsed()) / 1e6);
      }
      return f;
    };
    report("playback: step to next event, tree+lanes", steps_of([&] { pb->step_forward(); }));
    pb->set_speed_index(3);  // 1x: 120 ticks of 16 ms of recorded time
    report("playback: 1x, 16 ms ticks, tree+lanes", steps_of([&] { pb->advance(16); }));
  }
  delete w;
  return 0;
}
