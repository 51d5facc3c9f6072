// ctxscope/viewer/playback.hpp — the time cursor of a document: replaying a run.
//
// A Playback holds one time t in [begin_ns, end_ns] of a document; the scenes
// draw the state at t (TraceDocument::node_state_at / wait_style_at: the
// model's state-at-time queries).  It plays in recorded time at a speed of
// 0.1x–100x (t advances speed × wall time), or one event per step (each tick
// moves to the next of the model's moments()); it steps to the next or
// previous moment and seeks anywhere.  Each change of t emits
// timeChanged(t, previous): the scenes highlight what changed in (previous, t]
// — the cancel wave of the last step.
//
// The tick is a QTimer (about 60 per second) measured by a monotonic clock;
// advance(wall_ms) is the same tick for tests, without the clock.  With no
// document, or a fresh one, t is the end: the finished picture.
//
// Thread safety: GUI thread only (a QObject with a timer).
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ctxscope/viewer/trace_document.hpp"

namespace ctxscope::viewer {

/// Parses a time given on the command line: nanoseconds ("1500000"), a
/// number with a unit ("12ms", "1.5s", "250us", "250µs", "40ns", "2m"), or a
/// percentage of the run ("50%").  `begin`/`end` are the run's span (a
/// percentage is begin + p·(end − begin), and an absolute time must lie in
/// it).  Returns nullopt and sets `err` to one line on a bad or out-of-range T.
std::optional<std::int64_t> parse_time_spec(std::string_view text, std::int64_t begin, std::int64_t end,
                                            std::string* err);

class Playback : public QObject {
  Q_OBJECT
 public:
  /// Speeds of the `[` / `]` ladder; kEventSteps after the last is "one event per step".
  static constexpr double kSpeeds[] = {0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100};
  static constexpr int kSpeedCount = 10;
  static constexpr int kEventSteps = kSpeedCount;  ///< speed_index() of the event-per-step mode

  explicit Playback(QObject* parent = nullptr);

  /// A new document: pauses, t = its end.  Nothing was stepped over (no
  /// cancel wave runs), unless `grown`: the next document of a followed run,
  /// whose cancels since the last document's end run their wave.
  void set_document(DocumentPtr doc, bool grown = false);
  const DocumentPtr& document() const noexcept { return doc_; }

  std::int64_t time() const noexcept { return t_; }
  bool at_end() const noexcept { return !doc_ || t_ >= doc_->end_ns(); }
  std::int64_t begin_ns() const noexcept { return doc_ ? doc_->begin_ns() : 0; }
  std::int64_t end_ns() const noexcept { return doc_ ? doc_->end_ns() : 0; }

  /// Moves the cursor (clamped to the run); emits timeChanged when it moved.
  void seek(std::int64_t t);
  /// To the next / previous moment (an event) of the model; false at either end.
  bool step_forward();
  bool step_back();

  bool playing() const noexcept { return timer_.isActive(); }
  /// Plays from t (from the beginning when t is at the end); pause() stops.
  void play();
  void pause();
  void toggle() { playing() ? pause() : play(); }

  /// Index into kSpeeds, or kEventSteps.  Default 1x (index 3).
  int speed_index() const noexcept { return speed_; }
  void set_speed_index(int i);
  void faster() { set_speed_index(speed_ + 1); }
  void slower() { set_speed_index(speed_ - 1); }
  /// "0.1x" … "100x", "1 event/step".
  QString speed_text() const;

  /// One tick of `wall_ms` milliseconds of wall time: t += speed × wall time,
  /// or one moment in the event-per-step mode.  Stops at the end.
  void advance(double wall_ms);

 signals:
  void timeChanged(qint64 t, qint64 previous);
  void playingChanged(bool playing);
  void speedChanged(int index);

 private:
  void tick();
  DocumentPtr doc_;
  std::int64_t t_ = 0;
  int speed_ = 3;
  double carry_ns_ = 0;  // sub-nanosecond remainder of slow speeds
  QTimer timer_;
  QElapsedTimer clock_;
};

}  // namespace ctxscope::viewer
