// findings_view_model.hpp — the findings table's presentation: severity in colour.
//
// The FindingsModel is Qt Core only (no colours); this identity proxy adds the
// foreground colour of the severity column for the window's table.  Rows and
// columns are the FindingsModel's.
#pragma once

#include <QColor>
#include <QIdentityProxyModel>

#include "ctxscope/viewer/findings_model.hpp"

namespace ctxscope::viewer {

class FindingsViewModel : public QIdentityProxyModel {
  Q_OBJECT
 public:
  using QIdentityProxyModel::QIdentityProxyModel;
  QVariant data(const QModelIndex& index, int role) const override {
    if (role == Qt::ForegroundRole && index.column() == FindingsModel::SeverityColumn) {
      const auto s = QIdentityProxyModel::data(index, Qt::DisplayRole).toString();
      if (s == QLatin1String("error")) return QColor(0xc6, 0x28, 0x28);
      if (s == QLatin1String("warning")) return QColor(0xb2, 0x6a, 0x00);
    }
    return QIdentityProxyModel::data(index, role);
  }
};

}  // namespace ctxscope::viewer
