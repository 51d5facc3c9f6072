// The live follower's document: derived from the previous one by what the
// model's updates changed (TraceDocument's delta constructor) — it must equal
// the document built whole from the same model and report, at every step of
// a run that exercises what a delta can touch: new and changed contexts,
// cancel waves (origins, cancel-time order), woke edges, a blind wait whose
// missed edge appears in a later batch than the wait itself (an edge of a
// wait the batch does not name), a lost cancel (the leak overlay), threads
// that come and go (lanes).  The run is recorded by the real recorder in
// steps, each ended by trace::flush(); updates are merged two by two, as the
// follower merges the polls between two publishes.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <thread>
#include <tuple>

#include "ctxscope/analysis/analyzer.hpp"
#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"
#include "ctxscope/trace.hpp"
#include "ctxscope/trace_reader.hpp"
#include "ctxscope/viewer/context_tree_scene.hpp"
#include "ctxscope/viewer/trace_document.hpp"
#include "ctxscope/viewer/tree_geometry.hpp"
#include "viewer_support.hpp"

namespace ctxscope::testing {
namespace {

using viewer::TraceDocument;

void expect_same_document(const TraceDocument& a, const TraceDocument& b, int step) {
  SCOPED_TRACE("step " + std::to_string(step));
  const auto& m = b.model();
  ASSERT_EQ(a.model().contexts().size(), m.contexts().size());
  ASSERT_EQ(a.model().waits().size(), m.waits().size());
  EXPECT_EQ(a.end_ns(), b.end_ns());
  EXPECT_EQ(a.begin_ns(), b.begin_ns());
  for (std::uint32_t c = 0; c < m.contexts().size(); ++c) {
    EXPECT_EQ(a.node_state(c), b.node_state(c)) << "context " << c;
    EXPECT_EQ(a.is_cancel_origin(c), b.is_cancel_origin(c)) << "context " << c;
    EXPECT_EQ(a.row_in_parent(c), b.row_in_parent(c)) << "context " << c << " parent " << m.contexts()[c].parent << " of " << m.contexts().size();
    EXPECT_EQ(a.findings_of_context(c), b.findings_of_context(c)) << "context " << c;
  }
  for (std::uint32_t w = 0; w < m.waits().size(); ++w) {
    EXPECT_EQ(a.wait_style(w), b.wait_style(w)) << "wait " << w;
    EXPECT_EQ(a.wait_missed(w), b.wait_missed(w)) << "wait " << w;
    EXPECT_EQ(a.findings_of_wait(w), b.findings_of_wait(w)) << "wait " << w;
  }
  EXPECT_EQ(a.lanes(), b.lanes());
  for (std::uint32_t t = 0; t < m.threads().size(); ++t) EXPECT_EQ(a.origins_of_thread(t), b.origins_of_thread(t));
  EXPECT_EQ(a.origins_of_thread(analysis::kNoIndex), b.origins_of_thread(analysis::kNoIndex));
  EXPECT_EQ(a.woke_by_wake(), b.woke_by_wake());
  EXPECT_EQ(a.max_wake_lag(), b.max_wake_lag());
  EXPECT_EQ(a.missed_edges(), b.missed_edges());
  EXPECT_EQ(a.cancelled_by_time(), b.cancelled_by_time());
  for (std::uint32_t f = 0; f < b.report().findings.size(); ++f) {
    EXPECT_EQ(a.finding_context(f), b.finding_context(f));
    EXPECT_EQ(a.finding_wait(f), b.finding_wait(f));
    EXPECT_EQ(a.finding_thread(f), b.finding_thread(f));
  }
}

// Every context drawn, one level below its parent, no two boxes overlapping.
void expect_laid_out(const viewer::ContextTreeScene& scene, const TraceDocument& doc, int step) {
  SCOPED_TRACE("tree at step " + std::to_string(step));
  const auto& cs = doc.model().contexts();
  std::vector<QRectF> boxes;
  for (std::uint32_t c = 0; c < cs.size(); ++c) {
    ASSERT_TRUE(scene.is_drawn(c)) << "context " << c;
    const QRectF r = scene.node_rect(c);
    if (cs[c].parent != analysis::kNoIndex) {
      EXPECT_GT(r.top(), scene.node_rect(cs[c].parent).bottom()) << "context " << c;
    }
    boxes.push_back(r);
  }
  std::sort(boxes.begin(), boxes.end(), [](const QRectF& a, const QRectF& b) {
    return a.top() != b.top() ? a.top() < b.top() : a.left() < b.left();
  });
  for (std::size_t i = 1; i < boxes.size(); ++i) {
    if (boxes[i].top() == boxes[i - 1].top()) {
      EXPECT_GE(boxes[i].left(), boxes[i - 1].right()) << "overlap";
    }
  }
  EXPECT_TRUE(scene.content_rect().contains(boxes.back()));
  EXPECT_TRUE(scene.sceneRect().contains(scene.content_rect()));  // all of it can be scrolled to
}

// A run traced into `name` under the test's folder, with a long-lived root,
// its model loaded and a first document: what each test then grows.
struct LiveRun {
  std::filesystem::path db;
  std::optional<trace::TraceReader> reader;
  Context root;
  CancelFunc cancel_root;
  analysis::TraceModel model;
  std::shared_ptr<const TraceDocument> doc;
  analysis::Report report() const { return analysis::analyze(reader->db(), analysis::Options{}); }
};

void start_live_run(LiveRun& r, const char* name) {
  r.db = test_dir() / name;
  std::string err;
  ASSERT_TRUE(trace::start(r.db.string(), {}, &err)) << err;
  r.reader = trace::TraceReader::open(r.db.string(), &err);
  ASSERT_TRUE(r.reader) << err;
  std::tie(r.root, r.cancel_root) = with_cancel(background());
  trace::flush();
  r.model = analysis::TraceModel::load(r.reader->db());
  r.doc = std::make_shared<const TraceDocument>(r.db.string(), r.model, r.report(), std::vector<std::string>{});
}

TEST(TraceDocumentDelta, EqualsTheDocumentBuiltWholeAtEveryStepOfALiveRun) {
  LiveRun run;
  ASSERT_NO_FATAL_FAILURE(start_live_run(run, "delta.db"));
  auto& [db, reader, root, cancel_root, model, doc] = run;
  const auto report = [&] { return run.report(); };

  // The steps of the run; each leaves what it started for later steps to end.
  Chan<int> blind_gate(0), handler_gate(0);
  WaitGroup threads;
  std::vector<CancelFunc> cancels;
  CancelFunc cancel_blind;
  std::vector<std::function<void()>> steps = {
      [&] {  // requests with handlers that observe their context
        for (int i = 0; i < 3; ++i) {
          auto [c, cancel] = with_cancel(root);
          cancels.push_back(cancel);
          threads.add(1);
          go(c, "handler", [c = c, &handler_gate, &threads] {
            (void)handler_gate.recv(c);
            threads.done();
          });
        }
      },
      [&] {  // a blind worker: blocked on a channel, its context not observed
        auto [c, cancel] = with_cancel(root);
        cancel_blind = cancel;
        threads.add(1);
        go(c, "blind", [&blind_gate, &threads] {
          (void)blind_gate.recv();
          threads.done();
        });
      },
      [&] { cancels[1](); },         // one handler's context: a woke edge, an origin
      [&] { cancel_blind(); },       // the blind wait's missed edge, for a wait this batch does not name
      [&] { blind_gate.send(1); },   // the blind wait ends
      [&] {                          // a lost cancel, and a child under a cancelled parent
        auto [leak, leak_cancel] = with_cancel(root);
        (void)leak;
        auto [child, child_cancel] = with_cancel(root);
        child_cancel();
      },
      [&] { cancel_root(); },        // the wave: every handler wakes
      [&] { threads.wait(); },
  };

  // Poll after every step; publish (derive a document) after every second poll.
  // The tree scene follows the documents as the window does: documents
  // without a layout (new contexts placed by the scene), and now and then
  // one carrying the layout of an earlier document.
  viewer::ContextTreeScene scene;
  scene.set_document(doc);
  analysis::ModelDelta pending;
  int step = 0;
  for (auto& s : steps) {
    s();
    trace::flush();
    pending.merge(model.update(reader->db()));
    ++step;
    if (step % 2 != 0 && step != static_cast<int>(steps.size())) continue;
    auto r = report();
    auto next = std::make_shared<TraceDocument>(*doc, model, pending, r, std::vector<std::string>{});
    const TraceDocument whole(db.string(), model, r, {});
    expect_same_document(*next, whole, step);
    auto bare = std::make_shared<TraceDocument>(*doc, model, pending, r, std::vector<std::string>{}, false);
    const bool with_layout = step % 4 == 0;
    if (with_layout) bare->set_default_tree(std::make_unique<viewer::TreeGeometry>(tree_geometry(*doc, nullptr, {})));
    const auto drawn_before = scene.drawn().size();
    // The layout a carried one replaces comes back (for the window to free
    // off the GUI thread): the arrays the scene drew from until now.
    const auto replaced = scene.follow_document(bare);
    ASSERT_EQ(replaced != nullptr, with_layout) << "step " << step;
    if (replaced) {
      EXPECT_EQ(replaced->drawn.size(), drawn_before) << "step " << step;
      EXPECT_NE(replaced->drawn.data(), scene.drawn().data()) << "step " << step;
    }
    expect_laid_out(scene, *bare, step);
    doc = std::move(next);
    pending = {};
  }
  for (auto& c : cancels) c();
  trace::stop();
  // The run did what the test is for.
  EXPECT_FALSE(doc->missed_edges().empty());
  EXPECT_GE(doc->woke_by_wake().size(), 3u);
  bool leaked = false;
  for (std::uint32_t c = 0; c < doc->model().contexts().size(); ++c)
    leaked |= doc->node_state(c) == viewer::NodeState::leaked;
  EXPECT_TRUE(leaked);
}

// A followed tree that grows keeps its scene rect (and so the view's scroll
// bars, whose repaint was a third of a live update's paint) while the content
// fits in it, and gets room to grow when it does not.
TEST(TraceDocumentDelta, AGrowingTreeChangesItsSceneRectSeldom) {
  LiveRun run;
  ASSERT_NO_FATAL_FAILURE(start_live_run(run, "grow.db"));
  auto& [db, reader, root, cancel_root, model, doc] = run;
  const auto report = [&] { return run.report(); };
  viewer::ContextTreeScene scene;
  scene.set_document(doc);
  int rect_changes = 0, growths = 0;
  QObject::connect(&scene, &QGraphicsScene::sceneRectChanged, [&] { ++rect_changes; });
  std::vector<CancelFunc> cancels;
  for (int step = 0; step < 60; ++step) {
    auto [c, cancel] = with_cancel(step % 3 == 0 || cancels.empty() ? root : background());
    cancels.push_back(cancel);
    trace::flush();
    const auto delta = model.update(reader->db());
    auto next = std::make_shared<TraceDocument>(*doc, model, delta, report(), std::vector<std::string>{}, false);
    const QRectF before = scene.content_rect();
    (void)scene.follow_document(next);
    growths += scene.content_rect() != before;
    EXPECT_TRUE(scene.sceneRect().contains(scene.content_rect())) << "step " << step;
    doc = std::move(next);
  }
  for (auto& c : cancels) c();
  cancel_root();
  trace::stop();
  EXPECT_GE(growths, 30);
  EXPECT_LE(rect_changes, growths / 3);
}

}  // namespace
}  // namespace ctxscope::testing
