#include "ctxscope/viewer/context_tree_scene.hpp"

#include <QGraphicsItem>
#include <QGraphicsSceneMouseEvent>
#include <QPainter>
#include <QStyleOptionGraphicsItem>
#include <algorithm>
#include <cmath>
#include <tuple>

#include "ctxscope/viewer/palette.hpp"
#include "ctxscope/viewer/trace_filter.hpp"
#include "ctxscope/viewer/tree_geometry.hpp"

namespace ctxscope::viewer {

using analysis::kNoIndex;
using analysis::kNoTime;

namespace {
QString dur(std::int64_t ns) { return QString::fromStdString(analysis::format_duration(ns)); }
}  // namespace

/// Draws every drawn node of the scene (culled to the exposed rectangle).
class TreeItem : public QGraphicsItem {
 public:
  explicit TreeItem(ContextTreeScene* s) : s_(s) { setFlag(ItemUsesExtendedStyleOption); }
  QRectF boundingRect() const override { return s_->content_.adjusted(-20, -20, 20, 20); }
  void refresh() { prepareGeometryChange(); update(); }

  // Edges when nodes are dots (a fitted tree of many thousands): each
  // parent's stem, its bar over the children and each child's drop, merged
  // per level into device pixel columns — one line per column, the bars as
  // runs — instead of three lines per parent.  A column's drop takes the
  // strongest pen of the children in it (the last step's wave, then a cancel
  // by the parent, then a plain edge); a child not yet created has none.
  void draw_edges_by_column(QPainter* p, const std::vector<std::uint32_t>& parents, const QRectF& exposed, double sx,
                            double dx, const QPen& edge, const QPen& wave, const QPen& hot) const {
    const auto& doc = *s_->doc_;
    const auto& m = doc.model();
    const double W = ContextTreeScene::kNodeW, H = ContextTreeScene::kNodeH, gap = ContextTreeScene::kGapY;
    const std::int64_t t = s_->t_;
    const auto col0 = static_cast<std::int64_t>(std::floor(exposed.left() * sx + dx));
    const auto cols = static_cast<std::int64_t>(std::ceil(exposed.right() * sx + dx)) - col0 + 1;
    if (cols <= 0 || cols > 100000) return;
    const auto level0 = static_cast<int>(std::max(0.0, std::floor(exposed.top() / ContextTreeScene::kLevel) - 1));
    const auto levels = static_cast<int>(std::floor(exposed.bottom() / ContextTreeScene::kLevel)) - level0 + 2;
    if (levels <= 0) return;
    // Per level (a parent's depth) and column: 1 stem, 2 bar, and the drop's pen (1 edge, 2 wave, 3 hot).
    std::vector<std::uint8_t> stem(static_cast<std::size_t>(levels * cols)), bar(stem.size()), drop(stem.size());
    auto at = [&](int level, double x) -> std::int64_t {
      const auto c = static_cast<std::int64_t>(std::floor(x * sx + dx)) - col0;
      if (level < level0 || level >= level0 + levels || c < 0 || c >= cols) return -1;
      return (level - level0) * cols + c;
    };
    for (auto c : parents) {
      const auto& kids = s_->kids_[c];
      if (kids.empty()) continue;
      const int d = s_->depth_[c];
      const double px = s_->pos(c).x() + W / 2;
      if (auto i = at(d, px); i >= 0) stem[static_cast<std::size_t>(i)] = 1;
      const double k0 = s_->pos(kids.front()).x() + W / 2, k1 = s_->pos(kids.back()).x() + W / 2;
      const double a = std::max(std::min(k0, px), exposed.left()), b = std::min(std::max(k1, px), exposed.right());
      for (double x = a; x <= b + 1e-9; x += 1.0 / sx)
        if (auto i = at(d, x); i >= 0) bar[static_cast<std::size_t>(i)] = 1;
      if (auto i = at(d, b); i >= 0) bar[static_cast<std::size_t>(i)] = 1;
      auto first = std::lower_bound(kids.begin(), kids.end(), exposed.left() - W,
                                    [&](std::uint32_t k, double x) { return s_->pos(k).x() < x; });
      for (auto it = first; it != kids.end(); ++it) {
        const auto k = *it;
        const double kx = s_->pos(k).x();
        if (kx > exposed.right()) break;
        if (!doc.context_exists_at(k, t)) continue;
        const auto i = at(d, kx + W / 2);
        if (i < 0) continue;
        const auto& kc = m.contexts()[k];
        const bool w = kc.cancel_reason == 1 && kc.cancel_ns != kNoTime && kc.cancel_ns <= t;
        const std::uint8_t pen = s_->wave_reached(k) && w ? 3 : w ? 2 : 1;
        auto& v = drop[static_cast<std::size_t>(i)];
        v = std::max(v, pen);
      }
    }
    const QPen* pens[] = {nullptr, &edge, &wave, &hot};
    auto x_of = [&](std::int64_t c) { return (static_cast<double>(col0 + c) + 0.5 - dx) / sx; };
    for (int l = 0; l < levels; ++l) {
      const double py = (level0 + l) * ContextTreeScene::kLevel + H, midy = py + gap / 2, ky = py + gap;
      const std::size_t row = static_cast<std::size_t>(l) * static_cast<std::size_t>(cols);
      p->setPen(edge);
      for (std::int64_t c = 0; c < cols; ++c)
        if (stem[row + c]) p->drawLine(QPointF(x_of(c), py), QPointF(x_of(c), midy));
      for (std::int64_t c = 0; c < cols;) {
        if (!bar[row + c]) {
          ++c;
          continue;
        }
        auto e = c;
        while (e + 1 < cols && bar[row + e + 1]) ++e;
        p->drawLine(QPointF(x_of(c) - 0.5 / sx, midy), QPointF(x_of(e) + 0.5 / sx, midy));
        c = e + 1;
      }
      for (std::int64_t c = 0; c < cols; ++c)
        if (const auto pen = drop[row + c]) {
          p->setPen(*pens[pen]);
          p->drawLine(QPointF(x_of(c), midy), QPointF(x_of(c), ky));
        }
    }
  }

  void paint(QPainter* p, const QStyleOptionGraphicsItem* opt, QWidget*) override {
    if (!s_->doc_) return;
    const auto& doc = *s_->doc_;
    const auto& m = doc.model();
    const QRectF exposed = opt->exposedRect.adjusted(-ContextTreeScene::kNodeW, -ContextTreeScene::kNodeH,
                                                     ContextTreeScene::kNodeW, ContextTreeScene::kNodeH);
    const double lod = QStyleOptionGraphicsItem::levelOfDetailFromTransform(p->worldTransform());
    const double W = ContextTreeScene::kNodeW, H = ContextTreeScene::kNodeH;
    p->setRenderHint(QPainter::Antialiasing, lod > 0.3);

    // Edges first: from the parent's bottom down to a bar over its children,
    // and from the bar down to each child.  Orthogonal lines without
    // antialiasing (no stroker), and per parent only the children in view
    // (binary search: a root with 5,000 children costs what is on screen).
    p->setRenderHint(QPainter::Antialiasing, false);
    QPen edge(QColor(0x90, 0x98, 0xa0), 1);
    edge.setCosmetic(true);
    QPen wave(palette::wave(), 3);
    wave.setCosmetic(true);
    QPen hot(palette::wave().darker(120), 6);  // the edges the last step's cancel went down
    hot.setCosmetic(true);
    QPen ghost_edge(QColor(0xd0, 0xd4, 0xd8), 1, Qt::DotLine);
    ghost_edge.setCosmetic(true);
    const std::int64_t t = s_->t_;
    // What is in view, found by rows (per level, sorted by x) instead of a
    // walk over every drawn node: a followed run's million contexts cost
    // what is on screen.  Parents: those in view and those of children in
    // view (an edge with an end on screen).
    const auto in_view = s_->in_view(exposed);
    std::vector<std::uint32_t> parents;
    for (const auto& [d, first, last] : in_view) {
      const auto& row = s_->rows_[d];
      for (auto i = first; i < last; ++i) {
        const auto c = row[i];
        if (!s_->kids_[c].empty()) parents.push_back(c);
        if (const auto pa = s_->parent_of(c); pa != kNoIndex) parents.push_back(pa);
      }
    }
    std::sort(parents.begin(), parents.end());
    parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
    const double dev_sx = p->worldTransform().m11(), dev_dx = p->worldTransform().dx(),
                 dev_sy = std::max(1e-9, p->worldTransform().m22());
    if (lod < 0.12) {
      draw_edges_by_column(p, parents, exposed, dev_sx, dev_dx, edge, wave, hot);
      parents.clear();
    }
    for (auto c : parents) {
      const auto& kids = s_->kids_[c];
      if (kids.empty()) continue;
      const QPointF pt = s_->pos(c);
      const double px = pt.x() + W / 2, py = pt.y() + H, midy = py + ContextTreeScene::kGapY / 2;
      if (midy + ContextTreeScene::kGapY < exposed.top() || py > exposed.bottom()) continue;
      const double k0 = s_->pos(kids.front()).x() + W / 2, k1 = s_->pos(kids.back()).x() + W / 2;
      const double minx = std::min(k0, px), maxx = std::max(k1, px);
      if (maxx < exposed.left() || minx > exposed.right()) continue;
      p->setPen(edge);
      if (px >= exposed.left() && px <= exposed.right()) p->drawLine(QPointF(px, py), QPointF(px, midy));
      p->drawLine(QPointF(std::max(minx, exposed.left()), midy), QPointF(std::min(maxx, exposed.right()), midy));
      auto first = std::lower_bound(kids.begin(), kids.end(), exposed.left() - W, [&](std::uint32_t k, double x) {
        return s_->pos(k).x() < x;
      });
      for (auto it = first; it != kids.end(); ++it) {
        const auto k = *it;
        const QPointF kt = s_->pos(k);
        if (kt.x() > exposed.right()) break;
        const auto& kc = m.contexts()[k];
        const bool w = kc.cancel_reason == 1 && kc.cancel_ns != kNoTime && kc.cancel_ns <= t;
        p->setPen(!doc.context_exists_at(k, t) ? ghost_edge : s_->wave_reached(k) && w ? hot : w ? wave : edge);
        const double kx = kt.x() + W / 2;
        p->drawLine(QPointF(kx, midy), QPointF(kx, kt.y()));
      }
    }
    p->setRenderHint(QPainter::Antialiasing, lod > 0.3);

    // The selected context's cancel wave: where its cancel began, and every
    // context that cancel reached, outlined in the wave colour.
    std::uint32_t wave_origin = kNoIndex;
    if (s_->selected_ != kNoIndex) {
      const auto& sc = m.contexts()[s_->selected_];
      if (sc.cancel_ns != kNoTime && sc.cancel_ns <= t) wave_origin = sc.cancel_origin != kNoIndex ? sc.cancel_origin : s_->selected_;
    }
    QFont f1 = p->font();
    f1.setFamily(QStringLiteral("DejaVu Sans"));
    f1.setPixelSize(12);
    f1.setBold(true);
    QFont f2 = f1;
    f2.setBold(false);
    f2.setPixelSize(11);
    std::vector<std::uint32_t> nodes;
    for (const auto& [d, first, last] : in_view)
      nodes.insert(nodes.end(), s_->rows_[d].begin() + static_cast<std::ptrdiff_t>(first),
                   s_->rows_[d].begin() + static_cast<std::ptrdiff_t>(last));
    // Level of detail: with nodes a pixel or two wide (a fitted tree of many
    // thousands), one dot per device pixel column and row — the first node
    // there — except a leak, the selection or a marked node, always drawn.
    // Rows come sorted by x, so a node in the last dot's column is skipped.
    double dot_col = -1e18, dot_y = -1e18;
    for (auto c : nodes) {
      const QPointF pt = s_->pos(c);
      const QRectF r(pt.x(), pt.y(), W, H);
      if (!r.intersects(exposed)) continue;
      const bool sel = c == s_->selected_;
      if (lod < 0.12) {
        const double col = std::floor(pt.x() * dev_sx + dev_dx);
        if (col == dot_col && pt.y() == dot_y && !sel && !s_->marked(c) && doc.node_state(c) != NodeState::leaked)
          continue;
        dot_col = col, dot_y = pt.y();
      }
      if (!doc.context_exists_at(c, t)) {  // not yet created: a ghost in its place
        if (lod < 0.12) continue;
        QPen gp(QColor(0xc0, 0xc6, 0xcc), 1, Qt::DashLine);
        gp.setCosmetic(true);
        p->setPen(sel ? QPen(palette::selection(), 3) : gp);
        p->setBrush(QColor(0xfa, 0xfb, 0xfc));
        p->drawRoundedRect(r, 6, 6);
        continue;
      }
      const auto st = doc.node_state_at(c, t);
      const bool hit = !s_->filter_ || s_->filter_->context_matches(c);
      QColor fill = palette::node_fill(st), border = palette::node_border(st);
      if (!hit) {
        fill.setAlpha(90);
        border.setAlpha(110);
      }
      const bool mark = s_->marked(c);
      if (lod < 0.12) {  // a coloured dot per node: 10,000 nodes at a glance
        // At least 2 x 5 device pixels (a node far below a pixel would vanish),
        // a leak 4 x 9: it must stand out in a fitted run of thousands.
        const double grow = st == NodeState::leaked ? 2.0 : 1.0;
        const QRectF dot(r.left(), r.top(), std::max(W, 2 * grow / dev_sx), std::max(H, 5 * grow / dev_sy));
        if (mark) p->fillRect(dot.adjusted(-dot.width() / 2, -dot.height() / 2, dot.width() / 2, dot.height() / 2), palette::diff_only());
        p->fillRect(dot, fill.darker(st == NodeState::leaked ? 100 : 115));
        if (sel) p->fillRect(dot.adjusted(-dot.width(), -dot.height(), dot.width(), dot.height()), palette::selection());
        continue;
      }
      if (wave_origin != kNoIndex && !sel && lod >= 0.12 &&
          (c == wave_origin || m.contexts()[c].cancel_origin == wave_origin)) {
        QPen wp(palette::wave(), 4);
        wp.setCosmetic(true);
        p->setPen(wp);
        p->setBrush(Qt::NoBrush);
        p->drawRoundedRect(r.adjusted(-3, -3, 3, 3), 8, 8);
      }
      if (mark) {  // comparing runs: only this run has it
        QPen mp(palette::diff_only(), 3, Qt::DashLine);
        mp.setCosmetic(true);
        p->setPen(mp);
        p->setBrush(Qt::NoBrush);
        p->drawRoundedRect(r.adjusted(-8, -8, 8, 8), 11, 11);
      }
      if (s_->wave_reached(c)) {  // the last step's cancel wave, as far as it has run
        QPen wp(palette::wave().darker(120), 8);
        wp.setCosmetic(true);
        p->setPen(wp);
        p->setBrush(Qt::NoBrush);
        p->drawRoundedRect(r.adjusted(-5, -5, 5, 5), 9, 9);
      }
      if (sel) {
        QPen hp(palette::selection(), 7);
        hp.setCosmetic(true);
        p->setPen(hp);
        p->setBrush(Qt::NoBrush);
        p->drawRoundedRect(r.adjusted(-3, -3, 3, 3), 8, 8);
      }
      const auto& x = m.contexts()[c];
      const bool origin = doc.is_cancel_origin(c) && x.cancel_ns <= t;
      QPen bp(border, st == NodeState::leaked || origin ? 3 : 1.5);
      if (st == NodeState::cancelled_by_parent) bp.setStyle(Qt::DashLine);
      if (sel) bp = QPen(Qt::black, 2.5);
      p->setPen(bp);
      p->setBrush(fill);
      p->drawRoundedRect(r, 6, 6);
      if (lod < 0.4) continue;

      p->setPen(hit ? palette::node_text(st) : QColor(0x80, 0x80, 0x80));
      p->setFont(f1);
      QString head = QString::fromStdString(m.name_of("kind", x.kind));
      if (!x.label.empty()) head += " " + QString::fromStdString(x.label);
      head += QStringLiteral("  #") + QString::number(x.id);
      const QRectF tr = r.adjusted(7, 3, -7, 0);
      p->drawText(QRectF(tr.left(), tr.top(), tr.width(), 16), Qt::AlignLeft | Qt::AlignVCenter,
                  p->fontMetrics().elidedText(head, Qt::ElideRight, static_cast<int>(tr.width())));
      p->setFont(f2);
      QString site = QString::fromStdString(doc.short_site(x.site));
      if (site.isEmpty()) site = x.parent == kNoIndex ? QStringLiteral("root") : QStringLiteral("(no site)");
      p->drawText(QRectF(tr.left(), tr.top() + 16, tr.width(), 15), Qt::AlignLeft | Qt::AlignVCenter,
                  p->fontMetrics().elidedText(site, Qt::ElideMiddle, static_cast<int>(tr.width())));
      QString life;
      if (x.created_ns != kNoTime) life = dur(x.created_ns);
      // Created → done / released / live; a leak says so in its badge and colour.
      if (x.cancel_ns != kNoTime && x.cancel_ns <= t) life += QStringLiteral(" → ") + dur(x.cancel_ns);
      else if (x.released_ns != kNoTime && x.released_ns <= t)
        life += QStringLiteral(" → released ") + dur(x.released_ns);
      else if (x.parent != kNoIndex) life += QStringLiteral(" → live");
      p->drawText(QRectF(tr.left(), tr.top() + 31, tr.width(), 15), Qt::AlignLeft | Qt::AlignVCenter,
                  p->fontMetrics().elidedText(life, Qt::ElideRight, static_cast<int>(tr.width())));

      // Badges: the cancel origin, the leak, a collapsed subtree.
      auto badge = [&](const QString& text, QColor bg, QColor fg, double right, double top) {
        QFont bf = f2;
        bf.setBold(true);
        bf.setPixelSize(10);
        p->setFont(bf);
        const double w = p->fontMetrics().horizontalAdvance(text) + 10;
        const QRectF b(right - w, top, w, 15);
        p->setPen(QPen(fg.darker(130), 1));
        p->setBrush(bg);
        p->drawRoundedRect(b, 7, 7);
        p->setPen(fg);
        p->drawText(b, Qt::AlignCenter, text);
        return w;
      };
      if (mark) {  // its badge on the left, clear of the others on the right
        QFont bf = f2;
        bf.setBold(true);
        bf.setPixelSize(10);
        p->setFont(bf);
        const double w = p->fontMetrics().horizontalAdvance(s_->mark_badge_) + 10;
        const QRectF b(r.left() - 6, r.top() - 9, w, 15);
        p->setPen(QPen(palette::diff_only().darker(130), 1));
        p->setBrush(palette::diff_only());
        p->drawRoundedRect(b, 7, 7);
        p->setPen(Qt::white);
        p->drawText(b, Qt::AlignCenter, s_->mark_badge_);
      }
      double right = r.right() + 6;
      if (st == NodeState::leaked) right -= badge(QStringLiteral("LEAK"), QColor(0x8e, 0, 0), Qt::white, right, r.top() - 9) + 3;
      if (origin) {
        const bool dl = x.cancel_reason == 2;
        right -= badge(dl ? QStringLiteral("▼ deadline") : QStringLiteral("▼ cancel"),
                       dl ? palette::deadline_marker() : palette::cancel_marker(), Qt::white, right, r.top() - 9) + 3;
      }
      if (s_->hidden_below_[c] > 0)
        badge(QStringLiteral("+") + QString::number(s_->hidden_below_[c]), QColor(0x55, 0x5f, 0x6a), Qt::white,
              r.center().x() + 20, r.bottom() - 6);
    }
  }

 private:
  ContextTreeScene* s_;
};

ContextTreeScene::ContextTreeScene(QObject* parent) : QGraphicsScene(parent), selected_(kNoIndex) {
  item_ = new TreeItem(this);
  addItem(item_);
  setItemIndexMethod(QGraphicsScene::NoIndex);
}

ContextTreeScene::~ContextTreeScene() = default;

void ContextTreeScene::set_document(DocumentPtr doc) {
  doc_ = std::move(doc);
  filter_ = nullptr;
  selected_ = kNoIndex;
  t_ = prev_ = std::numeric_limits<std::int64_t>::max();
  const auto n = doc_ ? doc_->model().contexts().size() : 0;
  collapsed_.assign(n, 0);
  marks_.clear();
  // The default layout was computed with the document, off this thread.
  if (doc_) {
    if (auto g = doc_->take_default_tree()) {
      adopt(std::move(*g));
      return;
    }
  }
  relayout();
}

void ContextTreeScene::set_marks(std::vector<std::uint8_t> marks, QString badge) {
  marks_ = std::move(marks);
  mark_badge_ = std::move(badge);
  if (item_) item_->update();
}

void ContextTreeScene::set_filter(const TraceFilter* filter) {
  filter_ = filter;
  relayout();
}

void ContextTreeScene::set_time(std::int64_t t, std::int64_t previous) {
  if (t == t_ && previous == prev_) return;
  t_ = t;
  prev_ = previous;
  // A step over a cancel starts its wave at the origins; otherwise none runs.
  wave_depth_ = -1;
  if (doc_ && prev_ < t_) {  // what was cancelled in (prev, t]: a range of the document's cancel-time index
    const auto& by = doc_->cancelled_by_time();
    const auto& cs = doc_->model().contexts();
    auto it = std::upper_bound(by.begin(), by.end(), prev_, [&](std::int64_t v, std::uint32_t c) { return v < cs[c].cancel_ns; });
    for (; it != by.end() && cs[*it].cancel_ns <= t_; ++it) wave_depth_ = std::max(wave_depth_, wave_depth_of(*it));
  }
  wave_level_ = wave_depth_ >= 0 ? 0.0 : 1e9;
  if (wave_depth_ > 0) {
    if (!wave_timer_) {
      wave_timer_ = new QTimer(this);
      wave_timer_->setInterval(16);
      connect(wave_timer_, &QTimer::timeout, this, [this] { advance_wave(16); });
    }
    wave_timer_->start();
  } else if (wave_timer_) {
    wave_timer_->stop();
  }
  item_->update();
}

void ContextTreeScene::advance_wave(double ms) {
  if (!wave_running()) return;
  wave_level_ += ms / kWaveMsPerLevel;
  if (!wave_running() && wave_timer_) wave_timer_->stop();
  item_->update();
}

int ContextTreeScene::wave_depth_of(std::uint32_t c) const {
  if (!doc_ || c >= doc_->model().contexts().size()) return 0;
  const auto& cs = doc_->model().contexts();
  const auto origin = cs[c].cancel_origin;
  if (origin == kNoIndex || origin == c) return 0;
  int d = 0;
  for (auto a = c; a != kNoIndex && a != origin && d < 100000; a = cs[a].parent) ++d;
  return d;
}

bool ContextTreeScene::wave_reached(std::uint32_t c) const {
  return cancelled_in_last_step(c) && wave_depth_of(c) <= wave_level_;
}

bool ContextTreeScene::cancelled_in_last_step(std::uint32_t c) const {
  if (!doc_ || c >= doc_->model().contexts().size() || prev_ >= t_) return false;
  const auto ns = doc_->model().contexts()[c].cancel_ns;
  return ns != kNoTime && ns > prev_ && ns <= t_;
}

void ContextTreeScene::set_collapsed(std::uint32_t c, bool v) {
  if (c >= collapsed_.size() || (collapsed_[c] != 0) == v) return;
  collapsed_[c] = v;
  relayout();
}
bool ContextTreeScene::collapsed(std::uint32_t c) const { return c < collapsed_.size() && collapsed_[c]; }
void ContextTreeScene::toggle_collapsed(std::uint32_t c) { set_collapsed(c, !collapsed(c)); }

void ContextTreeScene::reveal(std::uint32_t c) {
  if (!doc_ || c >= collapsed_.size()) return;
  bool changed = false;
  for (auto a = doc_->model().contexts()[c].parent; a != kNoIndex; a = doc_->model().contexts()[a].parent)
    if (collapsed_[a]) collapsed_[a] = 0, changed = true;
  if (changed) relayout();
}

void ContextTreeScene::select_context(std::uint32_t c) {
  selected_ = c;
  if (c != kNoIndex) reveal(c);
  item_->update();
}

bool ContextTreeScene::is_drawn(std::uint32_t c) const { return c < drawn_flag_.size() && drawn_flag_[c]; }

QRectF ContextTreeScene::node_rect(std::uint32_t c) const {
  if (!is_drawn(c)) return {};
  return QRectF(pos(c), QSizeF(kNodeW, kNodeH));
}

QRectF ContextTreeScene::content_rect() const { return content_; }

std::uint32_t ContextTreeScene::context_at(QPointF sp) const {
  if (!doc_ || rows_.empty()) return kNoIndex;
  // Badges stick out above a box a little: accept a few pixels around it.
  const int d = static_cast<int>(std::floor((sp.y() + 10) / kLevel));
  if (d < 0 || d >= static_cast<int>(rows_.size())) return kNoIndex;
  const auto& row = rows_[static_cast<std::size_t>(d)];
  auto it = std::upper_bound(row.begin(), row.end(), sp.x(), [&](double x, std::uint32_t c) { return x < pos(c).x(); });
  if (it == row.begin()) return kNoIndex;
  const auto c = *(it - 1);
  return QRectF(pos(c), QSizeF(kNodeW, kNodeH)).adjusted(-4, -10, 4, 4).contains(sp) ? c : kNoIndex;
}

std::uint32_t ContextTreeScene::parent_of(std::uint32_t c) const {
  if (!doc_ || c >= x_.size()) return kNoIndex;
  const auto p = doc_->model().contexts()[c].parent;
  return is_drawn(p) ? p : kNoIndex;
}
std::uint32_t ContextTreeScene::first_child_of(std::uint32_t c) const {
  if (c >= kids_.size() || kids_[c].empty()) return kNoIndex;
  return kids_[c].front();
}
std::uint32_t ContextTreeScene::sibling_of(std::uint32_t c, int dir) const {
  if (!is_drawn(c)) return kNoIndex;
  const auto& row = rows_[static_cast<std::size_t>(depth_[c])];
  auto it = std::find(row.begin(), row.end(), c);
  if (dir < 0) return it == row.begin() ? kNoIndex : *(it - 1);
  return it + 1 == row.end() ? kNoIndex : *(it + 1);
}

void ContextTreeScene::relayout() {
  if (doc_) adopt(tree_geometry(*doc_, filter_, collapsed_));
  else adopt(TreeGeometry{});
}

TreeGeometry ContextTreeScene::adopt(TreeGeometry g) {
  // Swapped in whole (a follow update adopts a million-context layout without
  // touching each node on this thread; the old arrays go back in g, to be
  // freed wherever the caller likes); positions are computed when drawn.
  const auto n = doc_ ? doc_->model().contexts().size() : 0;
  std::swap(x_, g.x);
  if (x_.size() < n) x_.resize(n, 0.0);
  width_ = g.width;
  levels_ = g.levels;
  std::swap(drawn_, g.drawn);
  std::swap(drawn_flag_, g.drawn_flag);
  std::swap(kids_, g.kids);
  std::swap(roots_, g.roots);
  std::swap(hidden_below_, g.hidden_below);
  std::swap(rows_, g.rows);
  std::swap(depth_, g.depth);
  // A layout of fewer contexts (an earlier document of a followed run, or
  // none): the rest are not drawn until place_new() or the next layout.
  if (depth_.size() < n) depth_.resize(n, -1);
  if (drawn_flag_.size() < n) drawn_flag_.resize(n, 0);
  if (hidden_below_.size() < n) hidden_below_.resize(n, 0);
  if (kids_.size() < n) kids_.resize(n);
  refresh_extent();
  return g;
}

std::vector<std::tuple<std::size_t, std::size_t, std::size_t>> ContextTreeScene::in_view(const QRectF& r) const {
  // Rows (levels) whose boxes meet r, and in each the range of boxes by x.
  std::vector<std::tuple<std::size_t, std::size_t, std::size_t>> out;
  const auto d0 = static_cast<std::ptrdiff_t>(std::floor((r.top() - kNodeH) / kLevel));
  const auto d1 = static_cast<std::ptrdiff_t>(std::floor(r.bottom() / kLevel));
  for (auto d = std::max<std::ptrdiff_t>(0, d0); d <= d1 && d < static_cast<std::ptrdiff_t>(rows_.size()); ++d) {
    const auto& row = rows_[static_cast<std::size_t>(d)];
    const double xl = (r.left() - kNodeW) / kSlot, xr = r.right() / kSlot;
    auto lo = std::lower_bound(row.begin(), row.end(), xl, [&](std::uint32_t c, double x) { return x_[c] < x; });
    auto hi = std::upper_bound(lo, row.end(), xr, [&](double x, std::uint32_t c) { return x < x_[c]; });
    if (lo != hi)
      out.emplace_back(static_cast<std::size_t>(d), static_cast<std::size_t>(lo - row.begin()),
                       static_cast<std::size_t>(hi - row.begin()));
  }
  return out;
}

void ContextTreeScene::refresh_extent() {
  content_ = drawn_.empty() ? QRectF() : QRectF(0, -12, width_ * kSlot + kNodeW, levels_ * kLevel - kGapY + 12);
  item_->refresh();
  const QRectF want = content_.adjusted(-400, -300, 400, 300);
  if (!growing_) {
    setSceneRect(want);
  } else {
    // A followed run grows (new contexts to the right, new levels below): its
    // scene rect stays while the content fits in it and gets an eighth more
    // room when it does not.  Every change of the rect changes the view's
    // scroll bars, and repainting them was a third of a live update's paint.
    const QRectF have = sceneRect();
    const double room_x = std::max(want.width() / 8, 4 * kSlot), room_y = std::max(want.height() / 8, 2 * kLevel);
    const bool fits = have.topLeft() == want.topLeft() && have.contains(want) &&
                      have.width() <= want.width() + 2 * room_x && have.height() <= want.height() + 2 * room_y;
    if (!fits) setSceneRect(want.adjusted(0, 0, room_x, room_y));
  }
  emit layoutChanged();
}

std::unique_ptr<TreeGeometry> ContextTreeScene::follow_document(DocumentPtr doc) {
  // Collapsed subtrees or a filter: laid out here, whole (what set_document does).
  const bool plain = doc_ && doc && !filter_ &&
                     std::none_of(collapsed_.begin(), collapsed_.end(), [](char v) { return v != 0; });
  if (!plain) {
    set_document(std::move(doc));
    return nullptr;
  }
  doc_ = std::move(doc);
  growing_ = true;
  struct Reset {
    bool& b;
    ~Reset() { b = false; }
  } reset{growing_};
  const auto n = doc_->model().contexts().size();
  collapsed_.resize(n, 0);
  auto g = doc_->take_default_tree();
  if (!g) {
    place_new(drawn_flag_.size());
    return nullptr;
  }
  // A layout the follower made of an earlier document: what came since is
  // placed after it.  The arrays it replaces go back to the caller in g.
  const auto covered = g->x.size();
  *g = adopt(std::move(*g));
  place_new(covered);
  return g;
}

void ContextTreeScene::place_new(std::size_t from) {
  // Each new context goes to the right of everything on its level (at least
  // under its parent): nothing overlaps, every row stays sorted by x, and a
  // parent's children stay in x order.  Tidy again at the next whole layout.
  const auto& cs = doc_->model().contexts();
  const auto n = cs.size();
  if (from >= n) return refresh_extent();
  x_.resize(n, 0.0);
  depth_.resize(n, -1);
  drawn_flag_.resize(n, 0);
  hidden_below_.resize(n, 0);
  kids_.resize(n);
  for (auto c = static_cast<std::uint32_t>(from); c < n; ++c) {
    const auto p = cs[c].parent;
    int d = 0;
    double x = 0;
    if (p != kNoIndex) {
      if (p >= n || !drawn_flag_[p]) continue;
      d = depth_[p] + 1;
      x = x_[p];
    }
    if (static_cast<std::size_t>(d) >= rows_.size()) rows_.resize(static_cast<std::size_t>(d) + 1);
    auto& row = rows_[static_cast<std::size_t>(d)];
    if (!row.empty()) x = std::max(x, x_[row.back()] + 1);
    row.push_back(c);
    x_[c] = x;
    depth_[c] = d;
    drawn_flag_[c] = 1;
    drawn_.push_back(c);
    if (p != kNoIndex) kids_[p].push_back(c);
    else roots_.push_back(c);
    width_ = std::max(width_, x);
    levels_ = std::max(levels_, d + 1);
  }
  refresh_extent();
}

void ContextTreeScene::mousePressEvent(QGraphicsSceneMouseEvent* e) {
  if (e->button() == Qt::LeftButton) {
    const auto c = context_at(e->scenePos());
    if (c != kNoIndex) {
      emit contextClicked(c);
      e->accept();
      return;
    }
  }
  QGraphicsScene::mousePressEvent(e);
}

void ContextTreeScene::mouseDoubleClickEvent(QGraphicsSceneMouseEvent* e) {
  const auto c = context_at(e->scenePos());
  if (c != kNoIndex) {
    toggle_collapsed(c);
    e->accept();
    return;
  }
  QGraphicsScene::mouseDoubleClickEvent(e);
}

}  // namespace ctxscope::viewer
