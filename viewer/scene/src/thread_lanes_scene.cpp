#include "ctxscope/viewer/thread_lanes_scene.hpp"

#include <QGraphicsItem>
#include <QGraphicsSceneMouseEvent>
#include <QGraphicsView>
#include <QPainter>
#include <QPainterPath>
#include <QStyleOptionGraphicsItem>
#include <algorithm>
#include <cmath>

#include "ctxscope/viewer/palette.hpp"
#include "ctxscope/viewer/trace_filter.hpp"

namespace ctxscope::viewer {

using analysis::kNoIndex;
using analysis::kNoTime;
using analysis::WakeEdge;

namespace {
constexpr double kBarTop = 8, kBarH = 14;
constexpr int kMarkerHalfW = 6;  // a cancel marker's triangle: 12 px wide

void arrow_head(QPainter* p, QPointF tip, QPointF from, double size) {
  const QPointF d = tip - from;
  const double len = std::hypot(d.x(), d.y());
  if (len < 1e-6) return;
  const QPointF u = d / len, n(-u.y(), u.x());
  const QPointF pts[3] = {tip, tip - u * size + n * size * 0.5, tip - u * size - n * size * 0.5};
  p->drawPolygon(pts, 3);
}
}  // namespace

class LanesItem : public QGraphicsItem {
 public:
  explicit LanesItem(ThreadLanesScene* s) : s_(s) { setFlag(ItemUsesExtendedStyleOption); }
  QRectF boundingRect() const override { return bounds_; }
  void refresh() {
    prepareGeometryChange();
    const auto r = s_->content_rect();
    bounds_ = QRectF(r.left() - r.width() - 1, 0, r.width() * 3 + 2,
                     std::max<double>(1, s_->lanes_.size() * ThreadLanesScene::kLaneH));
    update();
  }

  void paint(QPainter* p, const QStyleOptionGraphicsItem* opt, QWidget*) override;

 private:
  ThreadLanesScene* s_;
  QRectF bounds_;
};

void LanesItem::paint(QPainter* p, const QStyleOptionGraphicsItem* opt, QWidget*) {
  auto& rec = s_->record_;
  if (s_->recording_) rec = {};
  if (!s_->doc_) return;
  const auto& doc = *s_->doc_;
  const auto& m = doc.model();
  const QTransform T = p->worldTransform();
  const double sx = T.m11(), dx = T.dx(), sy = T.m22(), dy = T.dy();
  const QRectF ex = opt->exposedRect;
  // Times of the exposed range, with a pixel of slack.
  const double px_us = 1.0 / sx;  // microseconds per device pixel
  const auto t_of = [&](double x_us) { return static_cast<std::int64_t>(x_us * 1000.0); };
  const std::int64_t tL = t_of(ex.left() - px_us), tR = t_of(ex.right() + px_us);
  const std::int64_t end = doc.end_ns();
  // The playback cursor: everything is cut at `now` (the end: the whole run).
  const std::int64_t now = std::min(s_->t_, end);
  const bool cut = s_->t_ < end;
  auto X = [&](std::int64_t ns) { return ThreadLanesScene::x_of(ns) * sx + dx; };
  auto Y = [&](double lane_y) { return lane_y * sy + dy; };
  const double H = ThreadLanesScene::kLaneH;
  const int first_lane = std::max(0, static_cast<int>(std::floor(ex.top() / H)));
  const int last_lane = std::min(static_cast<int>(s_->lanes_.size()) - 1, static_cast<int>(std::floor(ex.bottom() / H)));
  const double xl = X(tL), xr = X(tR);

  p->save();
  p->resetTransform();
  p->setRenderHint(QPainter::Antialiasing, false);

  QFont font = p->font();
  font.setFamily(QStringLiteral("DejaVu Sans"));
  font.setPixelSize(10);
  p->setFont(font);

  for (int lane = first_lane; lane <= last_lane; ++lane) {
    const auto t = s_->lanes_[static_cast<std::size_t>(lane)];
    const auto& th = m.threads()[t];
    const double y0 = Y(lane * H);
    const bool sel = t == s_->sel_thread_;
    p->fillRect(QRectF(xl, y0, xr - xl, H), sel ? QColor(0xff, 0xf4, 0xd0) : (lane % 2 ? QColor(0xf6, 0xf8, 0xfa) : Qt::white));
    if (s_->recording_) ++rec.lanes;
    // Thread span.
    std::int64_t a = th.spawn_ns != kNoTime ? th.spawn_ns : th.first_ns;
    if (a == kNoTime) a = doc.begin_ns();
    const bool exited = th.exit_ns != kNoTime && th.exit_ns <= now;
    const std::int64_t b = exited ? th.exit_ns : now;
    if (b >= tL && a <= tR && a <= now) {
      const double ya = y0 + kBarTop + kBarH / 2;
      p->fillRect(QRectF(std::max(X(a), xl), ya - 1, std::min(X(b), xr) - std::max(X(a), xl), 2), palette::lane_span());
      if (exited && X(b) <= xr) p->fillRect(QRectF(X(b) - 1, y0 + 6, 2, H - 12), palette::lane_span().darker(130));
    }
    // The deadline of the context the thread works for: past it, a wait
    // still blocked is blocked past its deadline.
    if (th.effective_ctx != kNoIndex) {
      const auto dl = m.contexts()[th.effective_ctx].deadline_ns;
      if (dl != kNoTime && dl >= tL && dl <= tR) {
        QPen dp(palette::deadline_marker(), 1.5, Qt::DotLine);
        p->setPen(dp);
        p->drawLine(QPointF(X(dl), y0 + 2), QPointF(X(dl), y0 + H - 2));
        if (s_->recording_) ++rec.deadlines;
      }
    }
    // Waits: binary search the first that may be visible, then walk, merging
    // sub-pixel bars and skipping to the next pixel.
    const auto& ws = th.waits;
    auto begin_of = [&](std::uint32_t w) { return m.waits()[w].begin_ns; };
    auto it = std::upper_bound(ws.begin(), ws.end(), tL, [&](std::int64_t v, std::uint32_t w) { return v < begin_of(w); });
    if (it != ws.begin()) --it;
    // A stuck wait or a long one that began long before tL: walk back while they may still cover tL.
    while (it != ws.begin() && (m.waits()[*(it - 1)].end_ns == kNoTime || m.waits()[*(it - 1)].end_ns >= tL)) --it;
    double run_x0 = -1, run_x1 = -1;
    QColor run_c;
    auto flush = [&] {
      if (run_x1 >= run_x0 && run_x0 >= 0) {
        p->fillRect(QRectF(run_x0, y0 + kBarTop, std::max(1.0, run_x1 - run_x0), kBarH), run_c);
        if (s_->recording_) ++rec.merged_runs;
      }
      run_x0 = run_x1 = -1;
    };
    while (it != ws.end()) {
      const auto w = *it;
      const auto& wt = m.waits()[w];
      if (wt.begin_ns > tR || wt.begin_ns > now) break;
      const std::int64_t we = std::min(wt.end_ns == kNoTime ? end : wt.end_ns, now);
      const double x0 = X(wt.begin_ns), x1 = X(we);
      if (we < tL) { ++it; continue; }
      const auto style = doc.wait_style_at(w, now);
      const QColor c = palette::wait_fill(style);
      const bool missed = doc.wait_missed(w) && (!cut || doc.wait_blocked_at(w, now));
      const bool mark = s_->marked(w);
      if (x1 - x0 < 1.0 && style != WaitStyle::stuck && !missed && !mark && w != s_->sel_wait_) {
        if (run_x0 >= 0 && x0 <= run_x1 + 1.0) {
          run_x1 = std::max(run_x1, x1);
        } else {
          flush();
          run_x0 = x0;
          run_x1 = x1;
          run_c = c;
        }
        // Skip to the first wait that begins in the next pixel.
        const std::int64_t next_t = t_of((std::floor(x1 - dx) + 1.0) / sx);
        auto nx = it + 1;
        if (nx != ws.end() && begin_of(*nx) < next_t) {
          nx = std::lower_bound(nx, ws.end(), next_t, [&](std::uint32_t v, std::int64_t tt) { return begin_of(v) < tt; });
          // A thread's waits follow one another: of those skipped, only the
          // last can reach past this pixel (a long or stuck wait that began
          // here), so it is looked at rather than skipped.
          if (nx - 1 > it) --nx;
          // Comparing runs, a marked wait is never skipped: stop at the first.
          if (!s_->marks_.empty()) nx = std::find_if(it + 1, nx, [&](std::uint32_t v) { return s_->marked(v); });
        }
        it = nx;
        continue;
      }
      flush();
      QRectF bar(std::max(x0, xl - 2), y0 + kBarTop, std::min(x1, xr + 2) - std::max(x0, xl - 2), kBarH);
      if (bar.width() < 3) bar.adjust(-(3 - bar.width()) / 2, 0, (3 - bar.width()) / 2, 0);  // an instant wait stays visible
      p->fillRect(bar, c);
      if (s_->recording_) {
        ++rec.bars;
        rec.wait_colour[w] = c;
      }
      if (missed) {
        // The gap: from when the thread's context was done, hatched.
        for (auto e : m.edges_of_wait(w)) {
          const auto& ed = m.edges()[e];
          if (ed.kind != WakeEdge::Kind::missed || ed.cancel_ns > now) continue;
          const double gx = X(ed.cancel_ns);
          if (gx > xr || gx < xl - 1e6) continue;
          p->fillRect(QRectF(std::max(gx, bar.left()), bar.top(), bar.right() - std::max(gx, bar.left()), bar.height()),
                      QBrush(QColor(0x7f, 0, 0), Qt::BDiagPattern));
          QPen dp(palette::missed(), 2, Qt::DashLine);
          p->setPen(dp);
          p->drawLine(QPointF(gx, y0 + 1), QPointF(gx, y0 + H - 1));
          if (s_->recording_) {
            ++rec.gaps;
            rec.gap_at.insert(w);
          }
        }
      }
      if (mark) {
        p->setPen(QPen(palette::diff_only(), 2, Qt::DashLine));
        p->setBrush(Qt::NoBrush);
        p->drawRect(bar.adjusted(-4, -4, 4, 4));
        if (s_->recording_) rec.marked_at.insert(w);
      }
      if (w == s_->sel_wait_) {
        p->setPen(QPen(Qt::black, 2));
        p->setBrush(Qt::NoBrush);
        p->drawRect(bar.adjusted(-2, -2, 2, 2));
        if (bar.width() < 12) {  // a short selected wait: a caret under it, so the eye finds it
          p->setBrush(Qt::black);
          const double cx = bar.center().x(), by = bar.bottom() + 3;
          const QPointF car[3] = {{cx, by}, {cx - 5, by + 6}, {cx + 5, by + 6}};
          p->drawPolygon(car, 3);
        }
      }
      if (style == WaitStyle::stuck && x1 <= xr + 10) {  // "still blocked" continues past the end
        p->setRenderHint(QPainter::Antialiasing, true);
        p->setPen(Qt::NoPen);
        p->setBrush(c.darker(140));
        const QPointF tri[3] = {{x1, y0 + kBarTop - 3}, {x1 + 9, y0 + kBarTop + kBarH / 2}, {x1, y0 + kBarTop + kBarH + 3}};
        p->drawPolygon(tri, 3);
        p->setRenderHint(QPainter::Antialiasing, false);
      }
      // A label inside the bar when it fits.
      if (bar.width() > 60) {
        QString text = QString::fromStdString(doc.wait_title(w));
        if (style == WaitStyle::stuck) text += QStringLiteral(" — still blocked");
        p->setPen(style == WaitStyle::blind ? QColor(0x21, 0x21, 0x21) : Qt::white);
        const QRectF tr = bar.adjusted(4, 0, -4, 0);
        p->drawText(tr, Qt::AlignVCenter | Qt::AlignLeft,
                    p->fontMetrics().elidedText(text, Qt::ElideRight, static_cast<int>(tr.width())));
      }
      ++it;
    }
    flush();
  }

  // Cancel markers on the cancelling thread's lane: per lane in view, its
  // origins by bisection, one marker per 3-pixel column (level of detail: a
  // lane with a million cancels costs what fits on screen).
  p->setRenderHint(QPainter::Antialiasing, true);
  // Each marker is a copy of a sprite rendered once (antialiased) at the
  // device's pixel ratio, placed at the nearest device pixel.
  const double dpr = p->device() ? p->device()->devicePixelRatioF() : 1.0;
  const auto sprite = [&](bool deadline) -> const QImage& {
    auto& sp = s_->marker_sprite_[deadline ? 1 : 0];
    if (sp.dpr != dpr || sp.image.isNull()) {
      const int w = kMarkerHalfW * 2 + 2, h = static_cast<int>(H);
      sp.image = QImage(static_cast<int>(std::ceil(w * dpr)), static_cast<int>(std::ceil(h * dpr)),
                        QImage::Format_ARGB32_Premultiplied);
      sp.image.setDevicePixelRatio(dpr);
      sp.image.fill(Qt::transparent);
      QPainter q(&sp.image);
      q.setRenderHint(QPainter::Antialiasing, true);
      q.setPen(Qt::NoPen);
      q.setBrush(deadline ? palette::deadline_marker() : palette::cancel_marker());
      const double cx = w / 2.0;
      const QPointF tri[3] = {{cx - kMarkerHalfW, 1}, {cx + kMarkerHalfW, 1}, {cx, 11}};
      q.drawPolygon(tri, 3);
      q.fillRect(QRectF(cx - 1, 8, 2, H - 10), q.brush());
      sp.dpr = dpr;
    }
    return sp.image;
  };
  for (int row = first_lane; row <= last_lane; ++row) {
    const auto& os = doc.origins_of_thread(s_->lanes_[static_cast<std::size_t>(row)]);
    const auto at_or_after = [&](std::vector<std::uint32_t>::const_iterator from, std::int64_t t) {
      return std::lower_bound(from, os.end(), t, [&](std::uint32_t c, std::int64_t v) { return m.contexts()[c].cancel_ns < v; });
    };
    const double y = Y(row * H);
    for (auto it = at_or_after(os.begin(), tL); it != os.end();) {
      const auto& c = m.contexts()[*it];
      if (c.cancel_ns > tR || c.cancel_ns > now) break;
      const double x = X(c.cancel_ns);
      p->drawImage(QPointF(std::round(x) - kMarkerHalfW - 1, std::round(y)), sprite(c.cancel_reason == 2));
      if (s_->recording_) ++rec.markers;
      // The next origin at least 3 device pixels to the right (a deadline
      // marker in the same column is drawn over by the cancel's, as before).
      const auto next_t = static_cast<std::int64_t>(std::ceil(((x + 3 - dx) / sx) * 1000.0));
      it = at_or_after(it + 1, std::max(next_t, c.cancel_ns + 1));
    }
  }

  // Arrows: cancel → each wait it woke.
  {
    QPen ap(palette::arrow(), 1.6);
    QPen hot_pen(palette::arrow().darker(130), 3.2);  // the selected cancel's wave
    p->setPen(ap);
    p->setBrush(palette::arrow());
    const auto& ev = s_->doc_->woke_by_wake();
    auto it = std::lower_bound(ev.begin(), ev.end(), tL, [&](std::uint32_t e, std::int64_t v) { return m.edges()[e].wake_ns < v; });
    int drawn = 0;
    // Level of detail: one arrowhead per lane and pixel column (edges come
    // by wake time, so x only grows); arrows only into lanes in view, their
    // tails clamped just outside the view (a cancel far away points in from
    // the edge instead of being stroked across thousands of lanes).
    std::vector<double> last_x(static_cast<std::size_t>(std::max(0, last_lane - first_lane + 1)), -1e18);
    const double top_y = Y(first_lane * H) - 30, bottom_y = Y((last_lane + 1) * H) + 30;
    for (; it != ev.end() && drawn < 5000; ++it) {
      const auto& e = m.edges()[*it];
      if (e.wake_ns > tR + s_->doc_->max_wake_lag()) break;
      if (e.cancel_ns > tR || e.wake_ns > now) continue;
      const auto& w = m.waits()[e.wait];
      const auto wt = m.find_thread(w.thread);
      const int wrow = wt == kNoIndex ? -1 : s_->row_of_[wt];
      if (wrow < first_lane || wrow > last_lane) continue;
      const auto ct = m.find_thread(e.cancel_thread);
      const int crow = ct == kNoIndex ? -1 : s_->row_of_[ct];
      const double x1 = X(e.wake_ns);
      const double y1 = Y(wrow * H + (crow >= 0 && crow > wrow ? kBarTop + kBarH : kBarTop));
      const double x0 = X(e.cancel_ns);
      const double y0 = std::clamp(crow >= 0 ? Y(crow * H + (crow > wrow ? 2 : H - 2)) : y1 - H * 0.8 * sy, top_y, bottom_y);
      auto& lx = last_x[static_cast<std::size_t>(wrow - first_lane)];
      if (x1 - lx < 2) continue;
      lx = x1;
      const QPointF a(x0, y0), b(x1, y1);
      // A slight curve so arrows from one cancel fan out and stay apart from the lane lines.
      QPainterPath path(a);
      const QPointF c1(x0 + std::max(12.0, (x1 - x0) * 0.5), y0), c2(x1, y1 + (y0 < y1 ? -12.0 : 12.0));
      path.cubicTo(c1, c2, b);
      const bool recent = s_->prev_ < s_->t_ && e.wake_ns > s_->prev_ && e.wake_ns <= now;
      const bool hot = recent || e.origin == s_->wave_origin_ || e.wait == s_->sel_wait_;
      p->setPen(hot ? hot_pen : ap);
      p->setBrush(Qt::NoBrush);
      p->drawPath(path);
      p->setBrush(palette::arrow());
      arrow_head(p, b, c2, hot ? 11 : 8);
      ++drawn;
      if (s_->recording_) {
        ++rec.arrows;
        if (recent) ++rec.hot_arrows;
        rec.arrow_to.insert(e.wait);
      }
    }
  }
  // The playback cursor.
  if (cut && X(now) >= xl && X(now) <= xr) {
    p->setRenderHint(QPainter::Antialiasing, false);
    p->fillRect(QRectF(X(now) - 1, Y(first_lane * H), 2, Y((last_lane + 1) * H) - Y(first_lane * H)), QColor(0x21, 0x21, 0x21));
    if (s_->recording_) rec.cursor = true;
  }
  p->restore();
}

ThreadLanesScene::ThreadLanesScene(QObject* parent)
    : QGraphicsScene(parent), sel_thread_(kNoIndex), sel_wait_(kNoIndex), wave_origin_(kNoIndex) {
  item_ = new LanesItem(this);
  addItem(item_);
  setItemIndexMethod(QGraphicsScene::NoIndex);
}
ThreadLanesScene::~ThreadLanesScene() = default;

void ThreadLanesScene::set_marks(std::vector<std::uint8_t> marks) {
  marks_ = std::move(marks);
  item_->update();
}

void ThreadLanesScene::set_document(DocumentPtr doc) {
  doc_ = std::move(doc);
  filter_ = nullptr;
  sel_thread_ = sel_wait_ = wave_origin_ = kNoIndex;
  t_ = prev_ = std::numeric_limits<std::int64_t>::max();
  marks_.clear();
  set_filter(nullptr);
}

void ThreadLanesScene::set_filter(const TraceFilter* filter) {
  filter_ = filter;
  lanes_.clear();
  row_of_.assign(doc_ ? doc_->model().threads().size() : 0, -1);
  if (doc_)
    for (auto t : doc_->lanes())
      if (!filter_ || filter_->thread_visible(t)) {
        row_of_[t] = static_cast<int>(lanes_.size());
        lanes_.push_back(t);
      }
  item_->refresh();
  const auto r = content_rect();
  setSceneRect(QRectF(r.left() - r.width(), -24, r.width() * 3, lanes_.size() * kLaneH + 24 + 8));
}

int ThreadLanesScene::row_of_thread(std::uint32_t t) const {
  return t < row_of_.size() ? row_of_[t] : -1;
}

QRectF ThreadLanesScene::content_rect() const {
  if (!doc_) return QRectF(0, 0, 1000, 1);
  const double a = x_of(doc_->begin_ns()), b = x_of(doc_->end_ns());
  return QRectF(a, 0, std::max(1.0, b - a), std::max<double>(1, lanes_.size() * kLaneH));
}

QRectF ThreadLanesScene::wait_rect(std::uint32_t w) const {
  if (!doc_ || w >= doc_->model().waits().size()) return {};
  const auto& wt = doc_->model().waits()[w];
  const auto t = doc_->model().find_thread(wt.thread);
  const int row = row_of_thread(t);
  if (row < 0) return {};
  const auto e = wt.end_ns == kNoTime ? doc_->end_ns() : wt.end_ns;
  return QRectF(x_of(wt.begin_ns), row * kLaneH + kBarTop, std::max(1e-3, x_of(e) - x_of(wt.begin_ns)), kBarH);
}

std::uint32_t ThreadLanesScene::thread_at(QPointF sp) const {
  const int row = static_cast<int>(std::floor(sp.y() / kLaneH));
  if (row < 0 || row >= static_cast<int>(lanes_.size())) return kNoIndex;
  return lanes_[static_cast<std::size_t>(row)];
}

std::uint32_t ThreadLanesScene::wait_at(QPointF sp, double tol) const {
  const auto t = thread_at(sp);
  if (t == kNoIndex) return kNoIndex;
  const auto& m = doc_->model();
  const auto& ws = m.threads()[t].waits;
  const auto ns = static_cast<std::int64_t>(sp.x() * 1000.0), tol_ns = static_cast<std::int64_t>(tol * 1000.0);
  std::uint32_t best = kNoIndex;
  for (auto w : ws) {
    const auto& wt = m.waits()[w];
    const auto e = wt.end_ns == kNoTime ? doc_->end_ns() : wt.end_ns;
    if (wt.begin_ns - tol_ns <= ns && ns <= e + tol_ns) best = w;
    if (wt.begin_ns > ns + tol_ns) break;
  }
  return best;
}

void ThreadLanesScene::set_time(std::int64_t t, std::int64_t previous) {
  if (t == t_ && previous == prev_) return;
  t_ = t;
  prev_ = previous;
  item_->update();
}

void ThreadLanesScene::set_wave(std::uint32_t origin) {
  wave_origin_ = origin;
  item_->update();
}

void ThreadLanesScene::select(std::uint32_t thread, std::uint32_t wait) {
  sel_thread_ = thread;
  sel_wait_ = wait;
  item_->update();
}

void ThreadLanesScene::mousePressEvent(QGraphicsSceneMouseEvent* e) {
  if (e->button() == Qt::LeftButton && doc_) {
    double tol = 3;
    if (auto* v = e->widget()) {
      (void)v;
    }
    // 3 device pixels of tolerance, in scene x units.
    if (!views().isEmpty()) tol = 3.0 / std::max(1e-12, views().front()->transform().m11());
    const auto t = thread_at(e->scenePos());
    if (t != kNoIndex) {
      const auto w = wait_at(e->scenePos(), tol);
      if (w != kNoIndex) emit waitClicked(t, w);
      else emit threadClicked(t);
      e->accept();
      return;
    }
  }
  QGraphicsScene::mousePressEvent(e);
}

}  // namespace ctxscope::viewer
