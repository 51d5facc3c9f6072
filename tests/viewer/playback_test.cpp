// Playback: the state at time t.  The document's states at random t on every
// scenario trace (buggy and fixed) against an independent oracle — a replay of
// the trace's raw `events` table up to t, with no trace model — the Playback
// cursor (steps through moments(), speeds, the event-per-step mode), the
// scenes cut at t, the window's keys, and --screenshot --at.
#include <sqlite3.h>

#include <QTextBrowser>
#include <QComboBox>
#include <QImage>
#include <QLabel>
#include <QSlider>
#include <QTest>
#include <map>
#include <random>

#include "ctxscope/trace_schema.hpp"
#include "ctxscope/viewer/playback.hpp"
#include "viewer_support.hpp"

namespace ctxscope::testing {
namespace {

using analysis::kNoIndex;
using analysis::kNoTime;
using viewer::NodeState;
using viewer::Playback;
using viewer::WaitStyle;

/// What the raw events say a context / wait is at t (applied: t_ns <= t).
struct Oracle {
  enum class C { none, live, explicit_, parent, deadline, born_done, released };
  enum class W { none, blocked, ended_value, ended_done };
  struct Ev {
    std::int64_t t;
    int type;
    std::int64_t id, kind, aux;
  };
  std::vector<Ev> events;  // by (t_ns, seq)

  explicit Oracle(const std::filesystem::path& db) {
    sqlite3* h = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    // The raw events, decoded by the schema's own view (a plain connection has none).
    EXPECT_EQ(sqlite3_exec(h, ctxscope::trace::schema::events_view_sql().c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(h,
                                 "SELECT t_ns, type, id, coalesce(kind,-1), coalesce(aux,0) FROM events "
                                 "WHERE type IN (1,2,4,6,7) ORDER BY t_ns, seq",
                                 -1, &st, nullptr),
              SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
      events.push_back({sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1), sqlite3_column_int64(st, 2),
                        sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4)});
    sqlite3_finalize(st);
    sqlite3_close(h);
  }

  void at(std::int64_t t, std::map<std::int64_t, C>& ctx, std::map<std::int64_t, W>& wait) const {
    ctx.clear();
    wait.clear();
    for (const auto& e : events) {
      if (e.t > t) break;
      switch (e.type) {
        case 1: ctx[e.id] = C::live; break;
        case 2: {
          if (e.aux == 1) break;  // an explicit call on a context already done changes nothing
          auto& c = ctx[e.id];
          if (c == C::live || c == C::released || c == C::none)
            c = e.kind == 0 ? C::explicit_ : e.kind == 1 ? C::parent : e.kind == 2 ? C::deadline : C::born_done;
          break;
        }
        case 4: {
          auto& c = ctx[e.id];
          if (c == C::live) c = C::released;
          break;
        }
        case 6: wait[e.id] = W::blocked; break;
        case 7: wait[e.id] = e.kind == 2 ? W::ended_done : W::ended_value; break;
      }
    }
  }
};

Oracle::C as_oracle(NodeState s) {
  switch (s) {
    case NodeState::live:
    case NodeState::leaked: return Oracle::C::live;  // the verdict overlays a live context
    case NodeState::cancelled_explicit: return Oracle::C::explicit_;
    case NodeState::cancelled_by_parent: return Oracle::C::parent;
    case NodeState::deadline_exceeded: return Oracle::C::deadline;
    case NodeState::born_done: return Oracle::C::born_done;
    case NodeState::released: return Oracle::C::released;
  }
  return Oracle::C::none;
}

class ViewerPlaybackScenario : public ::testing::TestWithParam<std::tuple<Sample, const char*>> {
 protected:
  void SetUp() override {
    const auto& [s, mode] = GetParam();
    if (!s.exe) GTEST_SKIP() << s.name << " is not built";
    dir = test_dir();
    run_sample_traced(s, mode, dir);
    trace = dir / (std::string(mode) + ".db");
    std::string err;
    doc = viewer::load_document(trace.string(), &err);
    ASSERT_TRUE(doc) << err;
  }
  std::filesystem::path dir, trace;
  viewer::DocumentPtr doc;
};

TEST_P(ViewerPlaybackScenario, StateAtRandomTimesEqualsAReplayOfTheEventsUpToThatTime) {
  const Oracle oracle(trace);
  ASSERT_FALSE(oracle.events.empty());
  const auto& m = doc->model();
  std::mt19937_64 rng(0xC0FFEE ^ std::hash<std::string>{}(trace.string()));
  std::vector<std::int64_t> times;
  // Random times, every moment's edges (the instant of an event and just before it), the ends.
  std::uniform_int_distribution<std::int64_t> any(doc->begin_ns(), doc->end_ns());
  for (int i = 0; i < 40; ++i) times.push_back(any(rng));
  const auto mo = m.moments();
  for (int i = 0; i < 20 && !mo.empty(); ++i) {
    const auto t = mo[std::uniform_int_distribution<std::size_t>(0, mo.size() - 1)(rng)];
    times.push_back(t);
    times.push_back(t - 1);
  }
  times.push_back(doc->begin_ns());
  times.push_back(doc->end_ns());
  std::map<std::int64_t, Oracle::C> ctx;
  std::map<std::int64_t, Oracle::W> wait;
  for (const auto t : times) {
    oracle.at(t, ctx, wait);
    for (std::uint32_t c = 0; c < m.contexts().size(); ++c) {
      const auto id = static_cast<std::int64_t>(m.contexts()[c].id);
      const auto it = ctx.find(id);
      const bool exists = it != ctx.end();
      // Roots (background, todo) are created before the recorder sees them: the model may know them without an event.
      if (!exists && m.contexts()[c].parent == kNoIndex && m.contexts()[c].created_ns == kNoTime) continue;
      ASSERT_EQ(doc->context_exists_at(c, t), exists) << doc->context_title(c) << " at t=" << t;
      if (!exists) continue;
      const auto shown = doc->node_state_at(c, t);
      if (shown == NodeState::leaked) {
        // The verdict: only on a context the rules found leaked; before the end only over a live one
        // (at the end it overlays whatever the trace says, as the finished picture does).
        EXPECT_EQ(doc->node_state(c), NodeState::leaked);
        if (t < doc->end_ns()) {
          EXPECT_TRUE(it->second == Oracle::C::live || it->second == Oracle::C::released)
              << doc->context_title(c) << " at t=" << t;
        }
        continue;
      }
      EXPECT_EQ(as_oracle(shown), it->second)
          << doc->context_title(c) << " at t=" << t << " shown as " << viewer::to_string(shown);
    }
    for (std::uint32_t w = 0; w < m.waits().size(); ++w) {
      const auto it = wait.find(static_cast<std::int64_t>(m.waits()[w].id));
      const bool exists = it != wait.end();
      ASSERT_EQ(doc->wait_exists_at(w, t), exists) << doc->wait_title(w) << " at t=" << t;
      if (!exists) continue;
      EXPECT_EQ(doc->wait_blocked_at(w, t), it->second == Oracle::W::blocked) << doc->wait_title(w) << " at " << t;
      const auto style = doc->wait_style_at(w, t);
      if (it->second == Oracle::W::ended_done) {
        EXPECT_EQ(style, WaitStyle::ended_by_done) << doc->wait_title(w);
      }
      if (it->second == Oracle::W::blocked && t < doc->end_ns()) {
        EXPECT_NE(style, WaitStyle::stuck);
      }
    }
  }
  // At the end the picture is the finished one.
  for (std::uint32_t c = 0; c < m.contexts().size(); ++c)
    EXPECT_EQ(doc->node_state_at(c, doc->end_ns()), doc->node_state(c));
  for (std::uint32_t w = 0; w < m.waits().size(); ++w)
    EXPECT_EQ(doc->wait_style_at(w, doc->end_ns()), doc->wait_style(w));
}

TEST_P(ViewerPlaybackScenario, StepsVisitEveryMomentForwardAndBack) {
  Playback pb;
  pb.set_document(doc);
  EXPECT_TRUE(pb.at_end());
  pb.seek(doc->begin_ns());
  std::vector<std::int64_t> visited;
  while (pb.step_forward()) visited.push_back(pb.time());
  std::vector<std::int64_t> want;
  for (auto t : doc->model().moments())
    if (t > doc->begin_ns() && t <= doc->end_ns()) want.push_back(t);
  if (want.empty() || want.back() != doc->end_ns()) want.push_back(doc->end_ns());
  EXPECT_EQ(visited, want);
  EXPECT_TRUE(pb.at_end());
  std::size_t back = 0;
  while (pb.step_back()) ++back;
  EXPECT_EQ(pb.time(), doc->begin_ns());
  EXPECT_GE(back, want.size() - 1);
}

TEST_P(ViewerPlaybackScenario, ScenesAtTimeTDrawOnlyWhatHadHappenedByThen) {
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  const auto& m = doc->model();
  // The first wake of a cancel in the run, if any: just before it, no arrow points at that wait; at it, one does.
  std::int64_t wake = kNoTime;
  std::uint32_t woken = kNoIndex;
  for (const auto& e : m.edges())
    if (e.kind == analysis::WakeEdge::Kind::woke && e.wake_ns != kNoTime && (wake == kNoTime || e.wake_ns < wake))
      wake = e.wake_ns, woken = e.wait;
  auto* lanes = sw.w.lanes_scene();
  lanes->record(true);
  auto paint_at = [&](std::int64_t t) {
    sw.w.playback()->seek(t);
    sw.w.fit_all();
    QCoreApplication::processEvents();
    sw.w.lanes_view()->viewport()->grab();
    return lanes->last_paint();
  };
  const auto mid = doc->begin_ns() + (doc->end_ns() - doc->begin_ns()) / 2;
  const auto rec = paint_at(mid);
  EXPECT_TRUE(rec.cursor);
  for (const auto& [w, colour] : rec.wait_colour) {
    (void)colour;
    EXPECT_LE(m.waits()[w].begin_ns, mid) << "a wait not yet begun is drawn";
  }
  for (auto w : rec.arrow_to) {
    bool ok = false;
    for (auto e : m.edges_of_wait(w)) ok |= m.edges()[e].kind == analysis::WakeEdge::Kind::woke && m.edges()[e].wake_ns <= mid;
    EXPECT_TRUE(ok) << "an arrow to a wait woken after t";
  }
  if (woken != kNoIndex) {
    const auto row = lanes->row_of_thread(m.find_thread(m.waits()[woken].thread));
    sw.w.lanes_view()->show_lane(row);  // the woken wait's lane in view
    EXPECT_EQ(paint_at(wake - 1).arrow_to.count(woken), 0u);
    sw.w.lanes_view()->show_lane(row);
    sw.w.playback()->seek(wake - 1);
    ASSERT_TRUE(sw.w.playback()->step_forward());
    ASSERT_EQ(sw.w.playback()->time(), wake);
    sw.w.lanes_view()->viewport()->grab();
    EXPECT_EQ(lanes->last_paint().arrow_to.count(woken), 1u);
    EXPECT_GE(lanes->last_paint().hot_arrows, 1) << "the last step's wake is not emphasised";
  }
  // The tree: a context cancelled at a moment is "cancelled in the last step" when the step lands on it.
  for (std::uint32_t c = 0; c < m.contexts().size(); ++c) {
    const auto ns = m.contexts()[c].cancel_ns;
    if (ns == kNoTime || ns <= doc->begin_ns()) continue;
    sw.w.playback()->seek(ns - 1);
    EXPECT_FALSE(sw.w.tree_scene()->cancelled_in_last_step(c));
    ASSERT_TRUE(sw.w.playback()->step_forward());
    EXPECT_TRUE(sw.w.tree_scene()->cancelled_in_last_step(c)) << doc->context_title(c);
    // Its descendants reached by that cancel are cancelled in the same step;
    // the wave runs down to them level by level: the origin first, a level
    // below only after kWaveMsPerLevel of animation.
    auto* ts = sw.w.tree_scene();
    int deepest = 0;
    for (std::uint32_t k = 0; k < m.contexts().size(); ++k)
      if (m.contexts()[k].cancel_origin == c && m.contexts()[k].cancel_ns == ns) {
        EXPECT_TRUE(ts->cancelled_in_last_step(k)) << doc->context_title(k);
        deepest = std::max(deepest, ts->wave_depth_of(k));
      }
    const auto origin = m.contexts()[c].cancel_origin == kNoIndex ? c : m.contexts()[c].cancel_origin;
    if (ts->cancelled_in_last_step(origin)) {
      EXPECT_TRUE(ts->wave_reached(origin));
    }
    if (deepest > 0) {
      EXPECT_TRUE(ts->wave_running());
      for (std::uint32_t k = 0; k < m.contexts().size(); ++k)
        if (ts->cancelled_in_last_step(k) && ts->wave_depth_of(k) > 0) {
          EXPECT_FALSE(ts->wave_reached(k));
        }
      ts->advance_wave(viewer::ContextTreeScene::kWaveMsPerLevel * 1.01);
      for (std::uint32_t k = 0; k < m.contexts().size(); ++k)
        if (ts->cancelled_in_last_step(k)) {
          EXPECT_EQ(ts->wave_reached(k), ts->wave_depth_of(k) <= 1) << doc->context_title(k);
        }
      ts->advance_wave(viewer::ContextTreeScene::kWaveMsPerLevel * (deepest + 1));
      EXPECT_FALSE(ts->wave_running());
      for (std::uint32_t k = 0; k < m.contexts().size(); ++k)
        if (ts->cancelled_in_last_step(k)) {
          EXPECT_TRUE(ts->wave_reached(k)) << doc->context_title(k);
        }
    }
    break;
  }
  // At the end: no cursor.
  EXPECT_FALSE(paint_at(doc->end_ns()).cursor);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ViewerPlaybackScenario,
                         ::testing::Combine(::testing::ValuesIn(kSamples), ::testing::Values("buggy", "fixed")),
                         [](const auto& info) {
                           std::string n = std::string(std::get<0>(info.param).name) + "_" + std::get<1>(info.param);
                           for (auto& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(ViewerTimeSpec, ParsesNanosecondsUnitsAndPercentagesAndRejectsTheRest) {
  std::string e;
  const std::int64_t B = 0, E = 2'000'000'000;
  EXPECT_EQ(viewer::parse_time_spec("1500", B, E, &e), 1500);
  EXPECT_EQ(viewer::parse_time_spec("12ms", B, E, &e), 12'000'000);
  EXPECT_EQ(viewer::parse_time_spec("1.5s", B, E, &e), 1'500'000'000);
  EXPECT_EQ(viewer::parse_time_spec("250us", B, E, &e), 250'000);
  EXPECT_EQ(viewer::parse_time_spec("40ns", B, E, &e), 40);
  EXPECT_EQ(viewer::parse_time_spec("50%", B, E, &e), 1'000'000'000);
  EXPECT_EQ(viewer::parse_time_spec("0%", 100, 300, &e), 100);
  EXPECT_EQ(viewer::parse_time_spec("100%", 100, 300, &e), 300);
  for (const char* bad : {"", "ms", "-5", "12xs", "1.2.3s", "101%", "3s", "1.5", "abc", "12 ms"}) {
    e.clear();
    EXPECT_FALSE(viewer::parse_time_spec(bad, B, E, &e)) << bad;
    EXPECT_FALSE(e.empty()) << bad;
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
}

class ViewerPlaybackCursor : public ::testing::Test {
 protected:
  void SetUp() override {
    const Sample* s = nullptr;
    for (const auto& x : kSamples)
      if (std::string(x.name) == "fanout-timeout" && x.exe) s = &x;
    if (!s) GTEST_SKIP() << "fanout-timeout is not built";
    dir = test_dir();
    trace = record_buggy(*s, dir);
    std::string err;
    doc = viewer::load_document(trace.string(), &err);
    ASSERT_TRUE(doc) << err;
  }
  std::filesystem::path dir, trace;
  viewer::DocumentPtr doc;
};

TEST_F(ViewerPlaybackCursor, AdvancesByRecordedTimeTimesSpeedAndStopsAtTheEnd) {
  Playback pb;
  pb.set_document(doc);
  std::vector<std::pair<qint64, qint64>> changes;
  QObject::connect(&pb, &Playback::timeChanged, [&](qint64 t, qint64 p) { changes.emplace_back(t, p); });
  pb.seek(doc->begin_ns());
  EXPECT_EQ(pb.speed_index(), 3);  // 1x
  pb.advance(1.0);                  // 1 ms of wall time at 1x: 1 ms of the run
  EXPECT_EQ(pb.time(), doc->begin_ns() + 1'000'000);
  pb.set_speed_index(0);  // 0.1x
  pb.advance(1.0);
  EXPECT_EQ(pb.time(), doc->begin_ns() + 1'100'000);
  pb.set_speed_index(Playback::kSpeedCount - 1);  // 100x
  EXPECT_EQ(pb.speed_text(), QStringLiteral("100x"));
  pb.advance(1.0);
  EXPECT_EQ(pb.time(), doc->begin_ns() + 101'100'000);
  ASSERT_GE(changes.size(), 3u);
  EXPECT_EQ(changes.back().second, doc->begin_ns() + 1'100'000);  // previous: what the step covered
  pb.play();
  EXPECT_TRUE(pb.playing());
  for (int i = 0; i < 10000 && !pb.at_end(); ++i) pb.advance(16);
  EXPECT_TRUE(pb.at_end());
  EXPECT_FALSE(pb.playing()) << "playback does not pause at the end";
  EXPECT_EQ(pb.time(), doc->end_ns());
}

TEST_F(ViewerPlaybackCursor, EventPerStepModeMovesOneMomentPerTick) {
  Playback pb;
  pb.set_document(doc);
  pb.seek(doc->begin_ns());
  pb.faster();
  pb.set_speed_index(Playback::kEventSteps);
  pb.faster();  // stays: the last mode
  EXPECT_EQ(pb.speed_index(), Playback::kEventSteps);
  const auto first = doc->model().next_moment(doc->begin_ns());
  ASSERT_NE(first, kNoTime);
  pb.advance(1000);  // wall time does not matter
  EXPECT_EQ(pb.time(), first);
  pb.advance(1);
  EXPECT_EQ(pb.time(), doc->model().next_moment(first));
  pb.set_speed_index(-5);
  EXPECT_EQ(pb.speed_index(), 0);
}

TEST_F(ViewerPlaybackCursor, WindowKeysStepPlayAndChangeSpeed) {
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  auto* pb = sw.w.playback();
  EXPECT_TRUE(pb->at_end());
  EXPECT_EQ(sw.w.scrubber()->value(), sw.w.scrubber()->maximum());
  sw.w.tree_view()->setFocus();
  pb->seek(doc->begin_ns());
  EXPECT_EQ(sw.w.scrubber()->value(), 0);
  QTest::keyClick(sw.w.tree_view(), Qt::Key_Period);
  EXPECT_EQ(pb->time(), doc->model().next_moment(doc->begin_ns()));
  const auto t1 = pb->time();
  QTest::keyClick(sw.w.tree_view(), Qt::Key_Period);
  QTest::keyClick(sw.w.tree_view(), Qt::Key_Comma);
  EXPECT_EQ(pb->time(), t1);
  EXPECT_TRUE(sw.w.time_label()->text().contains(QStringLiteral("t = ")));
  QTest::keyClick(sw.w.tree_view(), Qt::Key_BracketRight);
  EXPECT_EQ(pb->speed_index(), 4);
  EXPECT_EQ(sw.w.speed_box()->currentIndex(), 4);
  QTest::keyClick(sw.w.tree_view(), Qt::Key_BracketLeft);
  QTest::keyClick(sw.w.tree_view(), Qt::Key_BracketLeft);
  EXPECT_EQ(pb->speed_index(), 2);
  QTest::keyClick(sw.w.tree_view(), Qt::Key_Space);
  EXPECT_TRUE(pb->playing());
  QTest::keyClick(sw.w.tree_view(), Qt::Key_Space);
  EXPECT_FALSE(pb->playing());
  // The scrubber seeks.
  sw.w.scrubber()->setValue(5000);
  EXPECT_NEAR(static_cast<double>(pb->time()), doc->begin_ns() + (doc->end_ns() - doc->begin_ns()) / 2.0,
              (doc->end_ns() - doc->begin_ns()) / 5000.0);
}

TEST_F(ViewerPlaybackCursor, DetailsPaneSaysWhatTheSelectionWasAtT) {
  ShownWindow sw;
  ASSERT_TRUE(open_and_wait(sw.w, trace));
  auto* pb = sw.w.playback();
  // The finding's wait (fanout-timeout: a blind wait still blocked at the end) and its context.
  ASSERT_FALSE(doc->report().findings.empty());
  const auto w = sw.w.document()->finding_wait(0);
  ASSERT_NE(w, analysis::kNoIndex);
  const auto& wt = sw.w.document()->model().waits()[w];
  const auto t_wait = [&] { return sw.w.details()->toPlainText(); };
  sw.w.select_wait(sw.w.document()->model().find_thread(wt.thread), w);
  EXPECT_FALSE(t_wait().contains(QStringLiteral("(playback)"))) << "at the end the pane describes the run";
  pb->seek(wt.begin_ns - 1);
  EXPECT_TRUE(t_wait().contains(QStringLiteral("not begun yet"))) << t_wait().toStdString();
  pb->seek(wt.begin_ns + 1);
  EXPECT_TRUE(t_wait().contains(QStringLiteral("blocked for"))) << t_wait().toStdString();
  EXPECT_TRUE(t_wait().contains(QStringLiteral("Below: the whole run.")));
  // A context before its creation, then back at the end: the banner goes.
  const auto c = sw.w.document()->finding_context(0) != analysis::kNoIndex ? sw.w.document()->finding_context(0)
                                                                          : sw.w.document()->model().contexts().size() - 1;
  const auto& x = sw.w.document()->model().contexts()[c];
  if (x.created_ns != analysis::kNoTime && x.created_ns > sw.w.document()->begin_ns()) {
    pb->seek(x.created_ns - 1);
    sw.w.select_context(c);
    EXPECT_TRUE(t_wait().contains(QStringLiteral("not created yet"))) << t_wait().toStdString();
  }
  pb->seek(sw.w.document()->end_ns());
  EXPECT_FALSE(t_wait().contains(QStringLiteral("(playback)")));
}

TEST_F(ViewerPlaybackCursor, ScreenshotAtTRendersThatTimeAndABadTIsExit2) {
  const std::string v = CTXSCOPE_VIEWER;
  const auto at_end = dir / "end.png", at_half = dir / "half.png";
  auto r = run_cmd("QT_QPA_PLATFORM=offscreen '" + v + "' --screenshot '" + at_half.string() + "' --at 50% '" +
                       trace.string() + "'",
                   dir);
  EXPECT_EQ(r.code, 0) << r.err;
  r = run_cmd("QT_QPA_PLATFORM=offscreen '" + v + "' --screenshot '" + at_end.string() + "' '" + trace.string() + "'", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  const QImage a(QString::fromStdString(at_half.string())), b(QString::fromStdString(at_end.string()));
  ASSERT_FALSE(a.isNull());
  ASSERT_EQ(a.size(), b.size());
  EXPECT_NE(a, b) << "the state at 50% looks like the end";
  for (const char* bad : {"12xs", "99999s", "-1", "150%"}) {
    r = run_cmd("QT_QPA_PLATFORM=offscreen '" + v + "' --screenshot '" + (dir / "bad.png").string() + "' --at '" + bad +
                    "' '" + trace.string() + "'",
                dir);
    EXPECT_EQ(r.code, 2) << bad;
    int lines = 0;
    std::string mine;
    std::istringstream in(r.err);
    for (std::string l; std::getline(in, l);)
      if (l.rfind("ctxscope-viewer:", 0) == 0) ++lines, mine = l;
    EXPECT_EQ(lines, 1) << r.err;
    EXPECT_NE(mine.find("--at"), std::string::npos) << mine;
  }
}

}  // namespace
}  // namespace ctxscope::testing
