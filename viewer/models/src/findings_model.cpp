#include "ctxscope/viewer/findings_model.hpp"

#include <algorithm>
#include <filesystem>

#include "ctxscope/viewer/trace_filter.hpp"

namespace ctxscope::viewer {

FindingsModel::FindingsModel(QObject* parent) : QAbstractTableModel(parent) {}

void FindingsModel::set_document(DocumentPtr doc) {
  beginResetModel();
  doc_ = std::move(doc);
  rows_.clear();
  if (doc_)
    for (std::uint32_t f = 0; f < doc_->report().findings.size(); ++f) rows_.push_back(f);
  endResetModel();
}

void FindingsModel::set_filter(const TraceFilter* filter) {
  beginResetModel();
  rows_.clear();
  if (doc_)
    for (std::uint32_t f = 0; f < doc_->report().findings.size(); ++f)
      if (!filter || filter->finding_visible(f)) rows_.push_back(f);
  endResetModel();
}

int FindingsModel::row_of_finding(std::uint32_t finding) const {
  auto it = std::find(rows_.begin(), rows_.end(), finding);
  return it == rows_.end() ? -1 : static_cast<int>(it - rows_.begin());
}

int FindingsModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}
int FindingsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant FindingsModel::data(const QModelIndex& index, int role) const {
  if (!doc_ || !index.isValid() || index.row() >= rowCount()) return {};
  const auto fi = rows_[static_cast<std::size_t>(index.row())];
  const auto& f = doc_->report().findings[fi];
  if (role == FindingRole) return QVariant::fromValue<quint32>(fi);
  if (role == Qt::ToolTipRole) return QString::fromStdString(f.message);
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case RuleColumn: return QString::fromStdString(f.rule);
    case SeverityColumn: return QString::fromUtf8(std::string(analysis::to_string(f.severity)).c_str());
    case SiteColumn:
      if (!f.site.known()) return QStringLiteral("<unknown>");
      return QString::fromStdString(std::filesystem::path(f.site.file).filename().string() + ":" +
                                    std::to_string(f.site.line));
    case ThreadColumn: return QString::fromStdString(f.thread_name);
    case MessageColumn: return QString::fromStdString(f.message);
  }
  return {};
}

QVariant FindingsModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case RuleColumn: return tr("Rule");
    case SeverityColumn: return tr("Severity");
    case SiteColumn: return tr("Site");
    case ThreadColumn: return tr("Thread");
    case MessageColumn: return tr("Message");
  }
  return {};
}

}  // namespace ctxscope::viewer
