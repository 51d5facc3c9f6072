// ctxscope/viewer/trace_document.hpp — one opened trace as the viewer sees it.
//
// A TraceDocument is the trace model (analysis::TraceModel) plus the rule
// engine's verdicts (analysis::Report) plus the few per-entity facts the
// views colour by, all derived from those two and nothing else: the viewer
// re-implements no rule and runs no SQL of its own.  It is immutable once
// built and shared (std::shared_ptr<const TraceDocument>) between the models,
// the scenes and the loader thread that built it.
//
// Thread safety: built on one thread (TraceLoader's worker), then only read.
// The next issue's live mode builds a new document per update (or extends
// this one behind a delta signal); consumers never hold raw pointers into it
// across a document change.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ctxscope/analysis/report.hpp"
#include "ctxscope/analysis/trace_model.hpp"

namespace ctxscope::viewer {

struct TreeGeometry;

/// What a context node is drawn as, at the end of the trace.  `leaked` is the
/// lost-cancel verdict of the rule engine overlaid on the trace's own state.
enum class NodeState : std::uint8_t {
  live,
  cancelled_explicit,
  cancelled_by_parent,
  deadline_exceeded,
  born_done,
  released,
  leaked,
};
inline constexpr int kNodeStateCount = 7;
const char* to_string(NodeState) noexcept;  ///< "live", "cancelled", "cancelled by parent", ...

/// What a wait bar is drawn as.
enum class WaitStyle : std::uint8_t {
  observing,      ///< observed its context (had a done case), ended by a value
  blind,          ///< observed no context, ended by a value
  ended_by_done,  ///< ended because the context it observed was done (an arrow points at it)
  stuck,          ///< still blocked at the end of the trace
};
inline constexpr int kWaitStyleCount = 4;
const char* to_string(WaitStyle) noexcept;

class TraceDocument {
 public:
  /// Builds the derived facts from a loaded model and its report.
  TraceDocument(std::string path, analysis::TraceModel model, analysis::Report report,
                std::vector<std::string> warnings);
  /// The next document of a followed run: `model` is `prev`'s model after
  /// the updates `delta` describes (merged, ModelDelta::merge), `report` the
  /// rules' latest verdicts.  Derives only what the delta and the findings
  /// can change — O(delta + findings + threads + wake edges after
  /// delta.edges_changed_from) — and equals the document the first
  /// constructor builds from the same model and report.  The tree's default
  /// layout (O(contexts)) only with `lay_out_tree`; without it the document
  /// carries none, or the one set_default_tree() gives it.
  TraceDocument(const TraceDocument& prev, analysis::TraceModel model, const analysis::ModelDelta& delta,
                analysis::Report report, std::vector<std::string> warnings, bool lay_out_tree = true);
  /// Gives a document not yet shared a tree layout made elsewhere — of this
  /// document or of an earlier one of the same followed run (the scene
  /// places the contexts it does not cover: ContextTreeScene::follow_document).
  void set_default_tree(std::unique_ptr<TreeGeometry> tree);
  ~TraceDocument();

  const std::string& path() const noexcept { return path_; }
  const analysis::TraceModel& model() const noexcept { return model_; }
  const analysis::Report& report() const noexcept { return report_; }
  /// The reader's warnings (events dropped, incomplete run) and the report's.
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }
  /// A preview: the first rows of a large run (LoadOptions::prefix), shown
  /// while the whole run loads and the rules run — its report is empty, not
  /// clean.  0 for a whole document, else the prefix of the ids it holds.
  double preview() const noexcept { return preview_; }
  /// Marks a document not yet shared as a preview of `prefix` of the run;
  /// its span becomes its rows' (not the whole run's end).
  void set_preview(double prefix) noexcept;

  /// The moment every "at the end" state is taken at (the run's end marker or last commit).
  std::int64_t end_ns() const noexcept { return end_ns_; }
  /// The earliest time anything happened (0 for a normal trace).
  std::int64_t begin_ns() const noexcept { return begin_ns_; }

  NodeState node_state(std::uint32_t context) const noexcept { return node_state_[context]; }
  WaitStyle wait_style(std::uint32_t wait) const noexcept { return wait_style_[wait]; }

  // ---- the state at time t (playback; --at) --------------------------------
  // From the model's context_state(i, t) / wait_state(i, t), so the picture at
  // t is what a trace cut at t would show.  At t >= end_ns() they equal
  // node_state() / wait_style().  O(1) each: a frame asks only for what it draws.
  /// Created at or before t.
  bool context_exists_at(std::uint32_t context, std::int64_t t) const noexcept;
  /// The node's state at t (meaningful when context_exists_at).  The leak
  /// verdict shows from the moment its last CancelFunc was dropped (or, when
  /// the trace does not say, from the end) over a live or released context:
  /// before that it was only live.
  NodeState node_state_at(std::uint32_t context, std::int64_t t) const noexcept;
  /// Began at or before t.
  bool wait_exists_at(std::uint32_t wait, std::int64_t t) const noexcept;
  /// A wait blocked at t < end is drawn by what it watches (observing / blind);
  /// `stuck` only for a wait still blocked at the end.
  WaitStyle wait_style_at(std::uint32_t wait, std::int64_t t) const noexcept;
  /// Still blocked at t.
  bool wait_blocked_at(std::uint32_t wait, std::int64_t t) const noexcept;
  /// True when the wait has a `missed` edge: blocked, blind, under a done context.
  bool wait_missed(std::uint32_t wait) const noexcept { return wait_missed_[wait] != 0; }
  /// Where the cancel began (explicit or deadline) and reached another context: drawn as an origin.
  bool is_cancel_origin(std::uint32_t context) const noexcept { return origin_[context] != 0; }

  /// Findings (indices into report().findings) naming a context / a wait / a thread index.
  const std::vector<std::uint32_t>& findings_of_context(std::uint32_t c) const;
  const std::vector<std::uint32_t>& findings_of_wait(std::uint32_t w) const;
  /// Model indices a finding points at (kNoIndex when it names none).
  std::uint32_t finding_context(std::uint32_t f) const noexcept { return f_ctx_[f]; }
  std::uint32_t finding_thread(std::uint32_t f) const noexcept { return f_thread_[f]; }
  std::uint32_t finding_wait(std::uint32_t f) const noexcept { return f_wait_[f]; }

  /// Lane order: model thread indices, user threads first (by first activity), runtime threads last.
  const std::vector<std::uint32_t>& lanes() const noexcept { return lanes_; }
  /// Lane of a thread index (kNoIndex: none).
  std::uint32_t lane_of_thread(std::uint32_t thread) const noexcept;

  // ---- indexes the views draw and walk by (built with the document) ---------
  /// Edges of kind woke (with both times) by wake time; their largest wake − cancel.
  const std::vector<std::uint32_t>& woke_by_wake() const noexcept { return woke_by_wake_; }
  std::int64_t max_wake_lag() const noexcept { return max_wake_lag_; }
  /// Edges of kind missed.
  const std::vector<std::uint32_t>& missed_edges() const noexcept { return missed_edges_; }
  /// The cancel origins (is_cancel_origin, done) whose cancel ran on thread
  /// index `thread` (kNoIndex: a thread the trace does not name), by cancel
  /// time: a lane draws its markers by bisection, not by walking every origin.
  const std::vector<std::uint32_t>& origins_of_thread(std::uint32_t thread) const;
  /// Every context that became done, by cancel time (a playback step finds what it cancelled by bisection).
  const std::vector<std::uint32_t>& cancelled_by_time() const noexcept { return cancelled_by_time_; }
  /// A context's row under its parent (or among the roots).
  int row_in_parent(std::uint32_t c) const noexcept { return row_in_parent_[c]; }
  /// The tree's default geometry (no filter, nothing collapsed), computed with
  /// the document — on the loader's or the follower's worker — for the first
  /// scene that shows it to adopt instead of laying out on the GUI thread.
  /// The first call takes it; later calls (and a second scene) get nullptr
  /// and lay out themselves.
  std::unique_ptr<TreeGeometry> take_default_tree() const;

  /// "ctx#1026 timeout", "wait-job (#3)", "chan_recv 'job.finished'": names the views share.
  std::string context_title(std::uint32_t c) const;
  std::string thread_title(std::uint32_t t) const;
  std::string wait_title(std::uint32_t w) const;
  /// "buggy.cpp:39" (file name only) or "" when unknown.
  std::string short_site(std::uint32_t site) const;

 private:
  std::string path_;
  analysis::TraceModel model_;
  analysis::Report report_;
  std::vector<std::string> warnings_;
  double preview_ = 0;
  std::int64_t end_ns_ = 0, begin_ns_ = 0;
  std::vector<NodeState> node_state_;
  std::vector<WaitStyle> wait_style_;
  std::vector<std::uint8_t> wait_missed_, origin_;
  void derive_findings();
  void derive_lanes();
  void derive_tree();
  std::vector<std::uint32_t> index_edges_from(std::size_t from);
  NodeState base_state(std::uint32_t context) const noexcept;
  WaitStyle base_style(std::uint32_t wait) const noexcept;
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> ctx_findings_, wait_findings_;  // sparse: few findings
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> origins_of_thread_;  // thread index → origins by cancel
  std::vector<std::uint32_t> f_ctx_, f_thread_, f_wait_;
  std::vector<std::uint32_t> lanes_, lane_of_;
  std::vector<std::uint32_t> woke_by_wake_, missed_edges_, cancelled_by_time_;
  std::int64_t max_wake_lag_ = 0;
  std::vector<int> row_in_parent_;
  mutable std::mutex take_mutex_;
  mutable std::unique_ptr<TreeGeometry> default_tree_;  // until taken
};

using DocumentPtr = std::shared_ptr<const TraceDocument>;

/// Runs of fewer events load whole at once (their load takes what a first paint may).
inline constexpr std::uint64_t kPreviewMinEvents = 200000;

/// Opens, loads and analyses `path` (the one way the viewer reads a file).
/// On a bad file returns nullptr and sets `err` to one line naming the file
/// and the problem.  `progress` gets [0, 1] and may return false to cancel
/// (then returns nullptr with `*cancelled = true`).  With `preview`, a large
/// finished run (`preview_min_events` events or more) is first given to it as
/// a preview document of its first rows, about `preview_min_events / 4`
/// events' worth (TraceDocument::preview), then loaded whole: the window
/// paints the start of a run while the rest loads.
DocumentPtr load_document(const std::string& path, std::string* err,
                          const std::function<bool(double)>& progress = {}, bool* cancelled = nullptr,
                          const std::function<void(DocumentPtr)>& preview = {},
                          std::uint64_t preview_min_events = kPreviewMinEvents);

}  // namespace ctxscope::viewer
