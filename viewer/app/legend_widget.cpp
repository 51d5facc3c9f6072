#include "legend_widget.hpp"

#include <QPainter>
#include <QPainterPath>

#include "ctxscope/viewer/palette.hpp"

namespace ctxscope::viewer {

LegendWidget::LegendWidget(QWidget* parent) : QWidget(parent) {
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

QSize LegendWidget::sizeHint() const { return QSize(800, compare_.isEmpty() ? 46 : 68); }

void LegendWidget::set_compare_mark(const QString& text) {
  if (text == compare_) return;
  compare_ = text;
  updateGeometry();
  update();
}

void LegendWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  p.fillRect(rect(), QColor(0xfa, 0xfb, 0xfc));
  QFont f = font();
  f.setFamily(QStringLiteral("DejaVu Sans"));
  f.setPixelSize(11);
  QFont bold = f;
  bold.setBold(true);
  const int row_h = 22;
  auto head = [&](int y, const QString& text) {
    p.setFont(bold);
    p.setPen(QColor(0x33, 0x33, 0x33));
    p.drawText(QRect(8, y, 80, row_h), Qt::AlignVCenter | Qt::AlignLeft, text);
    p.setFont(f);
    return 92;
  };
  auto label = [&](int& x, int y, const QString& text) {
    p.setPen(QColor(0x21, 0x21, 0x21));
    const int w = p.fontMetrics().horizontalAdvance(text);
    p.drawText(QRect(x, y, w + 2, row_h), Qt::AlignVCenter | Qt::AlignLeft, text);
    x += w + 22;
  };
  // Row 1: context states.
  int y = 1, x = head(y, tr("Contexts"));
  for (int i = 0; i < kNodeStateCount; ++i) {
    const auto s = static_cast<NodeState>(i);
    QPen pen(palette::node_border(s), s == NodeState::leaked ? 2.5 : 1.3);
    if (s == NodeState::cancelled_by_parent) pen.setStyle(Qt::DashLine);
    p.setPen(pen);
    p.setBrush(palette::node_fill(s));
    p.drawRoundedRect(QRectF(x, y + 5, 22, 13), 3, 3);
    x += 28;
    label(x, y, QString::fromUtf8(to_string(s)));
  }
  // The cancel origin badge and the wave.
  p.setPen(Qt::NoPen);
  p.setBrush(palette::cancel_marker());
  p.drawRoundedRect(QRectF(x, y + 4, 16, 15), 7, 7);
  p.setPen(Qt::white);
  p.drawText(QRectF(x, y + 4, 16, 15), Qt::AlignCenter, QStringLiteral("▼"));
  x += 22;
  label(x, y, tr("cancel origin"));
  p.setPen(QPen(palette::wave(), 2.6));
  p.drawLine(x, y + 11, x + 22, y + 11);
  x += 28;
  label(x, y, tr("cancel wave"));

  // Row 2: waits and marks.
  y = row_h + 1;
  x = head(y, tr("Waits"));
  for (int i = 0; i < kWaitStyleCount; ++i) {
    const auto s = static_cast<WaitStyle>(i);
    p.fillRect(QRectF(x, y + 5, 26, 12), palette::wait_fill(s));
    x += 32;
    label(x, y, QString::fromUtf8(to_string(s)));
  }
  // Arrow.
  p.setPen(QPen(palette::arrow(), 1.6));
  p.drawLine(QPointF(x, y + 11), QPointF(x + 22, y + 11));
  p.setBrush(palette::arrow());
  p.setPen(Qt::NoPen);
  const QPointF ah[3] = {{x + 26.0, y + 11.0}, {x + 18.0, y + 7.0}, {x + 18.0, y + 15.0}};
  p.drawPolygon(ah, 3);
  x += 32;
  label(x, y, tr("cancel woke this wait"));
  // Gap.
  p.fillRect(QRectF(x, y + 5, 26, 12), palette::wait_fill(WaitStyle::stuck));
  p.fillRect(QRectF(x + 8, y + 5, 18, 12), QBrush(QColor(0x7f, 0, 0), Qt::BDiagPattern));
  p.setPen(QPen(palette::missed(), 2, Qt::DashLine));
  p.drawLine(QPointF(x + 8, y + 2), QPointF(x + 8, y + 20));
  x += 32;
  label(x, y, tr("missed: done, but no arrow (blind)"));
  // Markers.
  for (int k = 0; k < 2; ++k) {
    p.setPen(Qt::NoPen);
    p.setBrush(k == 0 ? palette::cancel_marker() : palette::deadline_marker());
    const QPointF tri[3] = {{x + 0.0, y + 4.0}, {x + 12.0, y + 4.0}, {x + 6.0, y + 14.0}};
    p.drawPolygon(tri, 3);
    p.fillRect(QRectF(x + 5, y + 12, 2, 8), p.brush());
    x += 18;
    label(x, y, k == 0 ? tr("cancel called") : tr("deadline fired"));
  }
  p.setPen(QPen(palette::deadline_marker(), 1.5, Qt::DotLine));
  p.drawLine(QPointF(x + 5, y + 3), QPointF(x + 5, y + 19));
  x += 14;
  label(x, y, tr("its context's deadline"));
  if (!compare_.isEmpty()) {  // Row 3: comparing two runs.
    y = 2 * row_h + 1;
    x = head(y, tr("Compare"));
    p.setPen(QPen(palette::diff_only(), 2, Qt::DashLine));
    p.setBrush(Qt::NoBrush);
    p.drawRoundedRect(QRectF(x, y + 4, 22, 15), 4, 4);
    x += 28;
    QFont bf = f;
    bf.setBold(true);
    bf.setPixelSize(10);
    p.setFont(bf);
    const QString tag = tr("ONLY IN");
    const int w = p.fontMetrics().horizontalAdvance(tag) + 10;
    p.setPen(Qt::NoPen);
    p.setBrush(palette::diff_only());
    p.drawRoundedRect(QRectF(x, y + 4, w, 15), 7, 7);
    p.setPen(Qt::white);
    p.drawText(QRectF(x, y + 4, w, 15), Qt::AlignCenter, tag);
    p.setFont(f);
    x += w + 6;
    label(x, y, compare_);
  }
  p.setPen(QColor(0xd0, 0xd4, 0xd8));
  p.drawLine(0, height() - 1, width(), height() - 1);
}

}  // namespace ctxscope::viewer
