// legend_widget.hpp — what each colour and mark of the tree and lanes means.
#pragma once

#include <QWidget>

namespace ctxscope::viewer {

/// Two rows, drawn from palette.hpp: context states; waits and marks (a third when comparing runs).
class LegendWidget : public QWidget {
  Q_OBJECT
 public:
  explicit LegendWidget(QWidget* parent = nullptr);
  QSize sizeHint() const override;
  /// Comparing two runs: a third row explains the "only in" mark (empty: no row).
  void set_compare_mark(const QString& text);
  const QString& compare_mark() const noexcept { return compare_; }

 protected:
  void paintEvent(QPaintEvent*) override;

 private:
  QString compare_;
};

}  // namespace ctxscope::viewer
