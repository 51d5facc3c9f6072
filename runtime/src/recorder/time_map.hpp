// Converts event clock readings (Event::time) to CLOCK_MONOTONIC nanoseconds, on
// the recorder thread.
//
// When the event clock is the TSC (detail::event_clock_is_tsc), the recorder
// samples anchors — (TSC, CLOCK_MONOTONIC) pairs — and converts by linear
// interpolation between them.  One anchor is taken per drain pass, *after* the
// pass has read every ring's head, so each event drained in that pass was
// stamped before the pass's anchor: events are only ever interpolated between
// anchors that already exist, never extrapolated past the newest one.  The
// anchors never change once taken, so the conversion is one fixed, continuous,
// non-decreasing function of the TSC: two events keep their order whenever they
// are converted, and each thread's timestamps stay non-decreasing.  Its error is
// bounded by half the width of an anchor's sampling window (kMaxWindowTicks; a
// sample preempted between its reads is retaken).
//
// With the event clock in nanoseconds the map is the identity.
#pragma once

#include <cstdint>
#include <deque>

#include "ctxscope/detail/events.hpp"

namespace ctxscope::trace::detail {

class TimeMap {
 public:
  /// `tsc`: Event::time holds TSC ticks (else CLOCK_MONOTONIC ns).  Takes the first anchor.
  void reset(bool tsc) {
    tsc_ = tsc;
    anchors_.clear();
    if (tsc_) anchor();
  }

  bool tsc() const noexcept { return tsc_; }

  /// Takes an anchor: every event whose ring head was read before this call
  /// converts exactly (by interpolation).
  void anchor() {
    if (!tsc_) return;
    Anchor a = sample();
    if (!anchors_.empty()) {
      const Anchor& last = anchors_.back();
      // Non-decreasing in both coordinates (CLOCK_MONOTONIC and the TSC are).
      if (a.ticks <= last.ticks) return;
      if (a.ns < last.ns) a.ns = last.ns;
    }
    anchors_.push_back(a);
    // Enough history for any event still in a ring: every complete pass drains
    // every ring, so an event is never more than a few passes older than the
    // newest anchor.  An older one (stamped, then preempted for thousands of
    // passes before its push) extrapolates from the oldest anchor.
    if (anchors_.size() > kKeep) anchors_.pop_front();
  }

  /// CLOCK_MONOTONIC nanoseconds of an event clock reading.
  std::uint64_t to_ns(std::uint64_t t) const {
    if (!tsc_) return t;
    const std::size_t n = anchors_.size();
    // Outside the history (an event stamped long before it was drained, or a
    // map with one anchor): extrapolate from the nearest end with the slope of
    // the whole history, the most accurate one (a single segment may be only
    // microseconds long).
    if (n == 1 || t < anchors_.front().ticks) return lerp(anchors_.front(), anchors_.front(), t);
    if (t > anchors_.back().ticks) return lerp(anchors_.back(), anchors_.back(), t);
    // Events of a pass lie in the newest segments: search from the end.
    std::size_t i = n - 1;
    while (i > 1 && t < anchors_[i - 1].ticks) --i;
    return lerp(anchors_[i - 1], anchors_[i], t);
  }

  /// Nominal nanoseconds per tick measured over the whole history (for docs/tests).
  double ns_per_tick() const {
    if (anchors_.size() < 2) return 0;
    const Anchor &a = anchors_.front(), &b = anchors_.back();
    return static_cast<double>(b.ns - a.ns) / static_cast<double>(b.ticks - a.ticks);
  }

 private:
  struct Anchor {
    std::uint64_t ticks, ns;
  };
  static constexpr std::size_t kKeep = 4096;
  static constexpr std::uint64_t kMaxWindowTicks = 4096;  // ~1.5 us at 2.6 GHz

  static Anchor sample() {
    Anchor best{};
    std::uint64_t best_w = UINT64_MAX;
    for (int k = 0; k < 8 && best_w > kMaxWindowTicks; ++k) {
      const std::uint64_t t1 = ctxscope::detail::event_clock_ordered();
      const std::uint64_t ns = ctxscope::detail::now_ns();
      const std::uint64_t t2 = ctxscope::detail::event_clock_ordered();
      if (t2 - t1 < best_w) {
        best_w = t2 - t1;
        best = {t1 + (t2 - t1) / 2, ns};
      }
    }
    return best;
  }

  std::uint64_t lerp(const Anchor& a, const Anchor& b, std::uint64_t t) const {
    // Slope: this segment's, or (a == b) the whole history's.  (A drained event
    // always has anchors around it: the pass takes one before converting; 1.0
    // only covers a map anchored once.)
    double slope;
    if (b.ticks > a.ticks) {
      slope = static_cast<double>(b.ns - a.ns) / static_cast<double>(b.ticks - a.ticks);
    } else {
      slope = ns_per_tick();
      if (slope <= 0) slope = 1.0;
    }
    const double d = static_cast<double>(static_cast<std::int64_t>(t - a.ticks)) * slope;
    const std::int64_t r = static_cast<std::int64_t>(a.ns) + static_cast<std::int64_t>(d);
    return r < 0 ? 0 : static_cast<std::uint64_t>(r);
  }

  bool tsc_ = false;
  std::deque<Anchor> anchors_;
};

}  // namespace ctxscope::trace::detail
