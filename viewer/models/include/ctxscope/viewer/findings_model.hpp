// ctxscope/viewer/findings_model.hpp — the rule engine's findings as a table.
//
// One row per analysis::Finding of the document's Report, in the report's
// order; columns rule, severity, site, thread, message (the same words as the
// CLI: the Finding is shown, never re-worded).  FindingRole is the finding's
// index in the report.  A filter (set_filter) hides rows; hidden rows are not
// rows (the model is what the table shows).  Qt Core only.
#pragma once

#include <QAbstractTableModel>

#include "ctxscope/viewer/trace_document.hpp"

namespace ctxscope::viewer {

class TraceFilter;

class FindingsModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { RuleColumn, SeverityColumn, SiteColumn, ThreadColumn, MessageColumn, ColumnCount };
  enum Role { FindingRole = Qt::UserRole + 1 };

  explicit FindingsModel(QObject* parent = nullptr);
  void set_document(DocumentPtr doc);
  /// Shows only the findings the filter passes (nullptr: all).
  void set_filter(const TraceFilter* filter);
  /// Row of a finding index, or -1 when hidden.
  int row_of_finding(std::uint32_t finding) const;
  std::uint32_t finding_at(int row) const { return rows_.at(static_cast<std::size_t>(row)); }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  DocumentPtr doc_;
  std::vector<std::uint32_t> rows_;
};

}  // namespace ctxscope::viewer
