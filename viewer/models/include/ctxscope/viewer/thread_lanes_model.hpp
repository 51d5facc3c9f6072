// ctxscope/viewer/thread_lanes_model.hpp — the threads, one row per lane.
//
// Rows in lane order (TraceDocument::lanes(): user threads by first activity,
// ctxscope's own threads last).  Columns: thread, its context, start, end,
// number of waits, number of waits still blocked at the end.  ThreadRole is
// the thread's index in the TraceModel.  Qt Core only.
#pragma once

#include <QAbstractTableModel>

#include "ctxscope/viewer/trace_document.hpp"

namespace ctxscope::viewer {

class ThreadLanesModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { ThreadColumn, ContextColumn, StartColumn, EndColumn, WaitsColumn, StuckColumn, ColumnCount };
  enum Role { ThreadRole = Qt::UserRole + 1 };

  explicit ThreadLanesModel(QObject* parent = nullptr);
  void set_document(DocumentPtr doc);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  DocumentPtr doc_;
  std::vector<int> stuck_;  // per lane
};

}  // namespace ctxscope::viewer
