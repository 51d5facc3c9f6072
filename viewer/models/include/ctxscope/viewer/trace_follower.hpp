// ctxscope/viewer/trace_follower.hpp — follows a trace a running program is still writing.
//
// On a worker thread of its own, every interval (15 ms by default) the
// follower asks its private trace model for what was committed since
// (TraceModel::update(): one read transaction, cheap when nothing changed —
// the recorder commits at least every 50 ms and its WAL makes committed rows
// visible to this reader).  When something changed it publishes a new
// immutable document (updated(doc, state)): a snapshot of the model at that
// commit (a copy sharing the model's chunks) and the document derived from
// the last one by the updates since (TraceDocument's delta constructor).  The
// rules and the tree's whole layout run on a side thread of their own, each
// at most a fifth of the time (the rules at least `analyze_every_ms` apart)
// and only after new rows; the next document carries their latest results.
// The first and the last document are whole (rules and layout on this
// worker).  The GUI thread never touches SQLite and never waits for the worker.
//
// The end: a run whose end marker is written is `ended` (and following
// stops); a run without one whose process is gone (run.pid no longer exists
// on this machine, no new commit) is `died` — an incomplete run, not an
// error.  A file that does not exist yet is waited for; a file that is not a
// trace is failed(path, message).
//
// Cost: O(rows changed) per poll and per publish; the follower polls every
// `interval_ms` (15 ms) and publishes at most every `publish_every_ms` (30 ms)
// while rows keep coming (docs/viewer.md, "Live follow").
//
// Thread safety: the public functions are for the thread that owns the
// follower (the GUI thread); signals arrive queued on it.
#pragma once

#include <QObject>
#include <QString>
#include <QThread>
#include <atomic>
#include <cstdint>
#include <memory>

#include "ctxscope/viewer/trace_document.hpp"
#include "ctxscope/viewer/trace_loader.hpp"  // DocumentPtr as a metatype

namespace ctxscope::viewer {

class TraceFollower : public QObject {
  Q_OBJECT
 public:
  enum class RunState { running, ended, died };

  explicit TraceFollower(QObject* parent = nullptr);
  ~TraceFollower() override;

  /// Starts following `path` (superseding what was followed).
  void follow(const QString& path);
  /// Stops following (a publish in flight is dropped).
  void stop();
  bool following() const noexcept { return gen_ != 0 && active_; }
  const QString& path() const noexcept { return path_; }

  /// Drops `garbage` on the follower's worker thread: the window hands it the
  /// document an update replaced and the tree layout the scene let go of, so
  /// freeing a large model or a million-node layout never blocks the GUI.
  void dispose(std::shared_ptr<const void> garbage);

  void set_interval_ms(int ms) { interval_ms_ = ms; }
  void set_publish_every_ms(int ms) { publish_ms_ = ms; }
  void set_analyze_every_ms(int ms) { analyze_ms_ = ms; }

 signals:
  void updated(ctxscope::viewer::DocumentPtr document, ctxscope::viewer::TraceFollower::RunState state);
  void failed(const QString& path, const QString& message);

 private:
  QThread thread_;
  QObject* worker_ = nullptr;
  QString path_;
  std::shared_ptr<std::atomic<bool>> stop_flag_;
  std::uint64_t gen_ = 0;
  bool active_ = false;
  int interval_ms_ = 15, publish_ms_ = 30, analyze_ms_ = 1000;
};

const char* to_string(TraceFollower::RunState) noexcept;

}  // namespace ctxscope::viewer

Q_DECLARE_METATYPE(ctxscope::viewer::TraceFollower::RunState)
