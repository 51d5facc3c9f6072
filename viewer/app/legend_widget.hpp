// legend_widget.hpp — what each colour and mark of the tree and lanes means.
#pragma once

#include <QWidget>

namespace ctxscope::viewer {

/// Two rows, drawn from palette.hpp: context states; waits and marks.
class LegendWidget : public QWidget {
  Q_OBJECT
 public:
  explicit LegendWidget(QWidget* parent = nullptr);
  QSize sizeHint() const override;

 protected:
  void paintEvent(QPaintEvent*) override;
};

}  // namespace ctxscope::viewer
