#include "ctxscope/viewer/playback.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace ctxscope::viewer {

using analysis::kNoTime;

std::optional<std::int64_t> parse_time_spec(std::string_view text, std::int64_t begin, std::int64_t end,
                                            std::string* err) {
  auto fail = [&](const std::string& why) -> std::optional<std::int64_t> {
    if (err) *err = "--at " + std::string(text) + ": " + why;
    return std::nullopt;
  };
  std::string s(text);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  if (s.empty()) return fail("no time given (ns, or 12ms, 1.5s, 50%)");
  // The number: digits with an optional fraction; no sign (a time before the run is no time of it).
  std::size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  const std::string num = s.substr(0, i), unit = s.substr(i);
  if (num.empty() || num == "." || std::count(num.begin(), num.end(), '.') > 1)
    return fail("not a time (ns, or 12ms, 1.5s, 50%)");
  const double v = std::strtod(num.c_str(), nullptr);
  double ns = 0;
  if (unit == "%") {
    if (v > 100) return fail("more than 100% of the run");
    ns = static_cast<double>(begin) + v / 100.0 * static_cast<double>(end - begin);
    return static_cast<std::int64_t>(std::llround(ns));
  }
  if (unit.empty() || unit == "ns") ns = v;
  else if (unit == "us" || unit == "\xc2\xb5s") ns = v * 1e3;
  else if (unit == "ms") ns = v * 1e6;
  else if (unit == "s") ns = v * 1e9;
  else if (unit == "m" || unit == "min") ns = v * 60e9;
  else return fail("unknown unit '" + unit + "' (ns, us, ms, s, m, %)");
  if (unit.empty() && num.find('.') != std::string::npos) return fail("nanoseconds are whole (or give a unit)");
  if (ns > 9.2e18) return fail("too large");
  const auto t = static_cast<std::int64_t>(std::llround(ns));
  if (t < begin || t > end)
    return fail("outside the run (" + analysis::format_duration(begin) + " to " + analysis::format_duration(end) + ")");
  return t;
}

Playback::Playback(QObject* parent) : QObject(parent) {
  timer_.setInterval(16);
  timer_.setTimerType(Qt::PreciseTimer);
  connect(&timer_, &QTimer::timeout, this, &Playback::tick);
}

void Playback::set_document(DocumentPtr doc, bool grown) {
  pause();
  doc_ = std::move(doc);
  const auto old = t_;
  t_ = doc_ ? doc_->end_ns() : 0;
  // Opening a run is not a step from 0 to its end: a wave from every cancel
  // of the run would start (and cost a pass over all of them).
  const auto prev = grown ? old : t_;
  carry_ns_ = 0;
  emit timeChanged(t_, prev);
}

void Playback::seek(std::int64_t t) {
  if (!doc_) return;
  t = std::clamp(t, doc_->begin_ns(), doc_->end_ns());
  if (t == t_) return;
  const auto prev = t_;
  t_ = t;
  carry_ns_ = 0;
  emit timeChanged(t_, prev);
}

bool Playback::step_forward() {
  if (!doc_) return false;
  const auto n = doc_->model().next_moment(t_);
  if (n == kNoTime || n > doc_->end_ns()) {
    if (t_ < doc_->end_ns()) {
      seek(doc_->end_ns());
      return true;
    }
    return false;
  }
  seek(n);
  return true;
}

bool Playback::step_back() {
  if (!doc_) return false;
  const auto p = doc_->model().prev_moment(t_);
  if (p == kNoTime || p < doc_->begin_ns()) {
    if (t_ > doc_->begin_ns()) {
      seek(doc_->begin_ns());
      return true;
    }
    return false;
  }
  seek(p);
  return true;
}

void Playback::play() {
  if (!doc_ || playing()) return;
  if (at_end()) seek(doc_->begin_ns());
  clock_.start();
  timer_.start();
  emit playingChanged(true);
}

void Playback::pause() {
  if (!playing()) return;
  timer_.stop();
  emit playingChanged(false);
}

void Playback::set_speed_index(int i) {
  i = std::clamp(i, 0, kEventSteps);
  if (i == speed_) return;
  speed_ = i;
  carry_ns_ = 0;
  emit speedChanged(i);
}

QString Playback::speed_text() const {
  if (speed_ == kEventSteps) return tr("1 event/step");
  return QString::number(kSpeeds[speed_]) + QStringLiteral("x");
}

void Playback::tick() {
  const double ms = static_cast<double>(clock_.restart());
  // A stalled event loop (a dialog, a debugger) does not jump the run forward.
  advance(std::min(ms, 100.0));
}

void Playback::advance(double wall_ms) {
  if (!doc_) return;
  if (speed_ == kEventSteps) {
    if (!step_forward()) pause();
    return;
  }
  const double d = wall_ms * 1e6 * kSpeeds[speed_] + carry_ns_;
  const auto whole = static_cast<std::int64_t>(d);
  carry_ns_ = d - static_cast<double>(whole);
  if (whole > 0) {
    const auto prev = t_;
    const auto t = std::min(doc_->end_ns(), t_ + whole);
    if (t != t_) {
      t_ = t;
      emit timeChanged(t_, prev);
    }
  }
  if (at_end()) pause();
}

}  // namespace ctxscope::viewer
