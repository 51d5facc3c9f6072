#include "ctxscope/viewer/context_tree_model.hpp"

#include "ctxscope/analysis/finding.hpp"

namespace ctxscope::viewer {

using analysis::kNoIndex;
using analysis::kNoTime;

ContextTreeModel::ContextTreeModel(QObject* parent) : QAbstractItemModel(parent) {}

void ContextTreeModel::set_document(DocumentPtr doc) {
  beginResetModel();
  doc_ = std::move(doc);
  endResetModel();
}

QModelIndex ContextTreeModel::index_of_context(std::uint32_t context) const {
  if (!doc_ || context >= doc_->model().contexts().size()) return {};
  return createIndex(doc_->row_in_parent(context), 0, static_cast<quintptr>(context));
}

QModelIndex ContextTreeModel::index(int row, int column, const QModelIndex& parent) const {
  if (!doc_ || row < 0 || column < 0 || column >= ColumnCount) return {};
  const auto& m = doc_->model();
  if (!parent.isValid()) {
    if (row >= static_cast<int>(m.roots().size())) return {};
    return createIndex(row, column, static_cast<quintptr>(m.roots()[row]));
  }
  if (parent.column() != 0) return {};
  const auto& kids = m.contexts()[parent.internalId()].children;
  if (row >= static_cast<int>(kids.size())) return {};
  return createIndex(row, column, static_cast<quintptr>(kids[row]));
}

QModelIndex ContextTreeModel::parent(const QModelIndex& child) const {
  if (!doc_ || !child.isValid()) return {};
  const auto p = doc_->model().contexts()[child.internalId()].parent;
  if (p == kNoIndex) return {};
  // A context whose parent is also listed among the roots would be ambiguous;
  // the model's roots have no parent by definition.
  return createIndex(doc_->row_in_parent(p), 0, static_cast<quintptr>(p));
}

int ContextTreeModel::rowCount(const QModelIndex& parent) const {
  if (!doc_) return 0;
  if (!parent.isValid()) return static_cast<int>(doc_->model().roots().size());
  if (parent.column() != 0) return 0;
  return static_cast<int>(doc_->model().contexts()[parent.internalId()].children.size());
}

int ContextTreeModel::columnCount(const QModelIndex&) const { return ColumnCount; }

static QString time_text(std::int64_t ns) {
  if (ns == kNoTime) return QStringLiteral("—");
  return QString::fromStdString(analysis::format_duration(ns));
}

QVariant ContextTreeModel::data(const QModelIndex& index, int role) const {
  if (!doc_ || !index.isValid()) return {};
  const auto c = static_cast<std::uint32_t>(index.internalId());
  const auto& x = doc_->model().contexts()[c];
  if (role == ContextRole) return QVariant::fromValue<quint32>(c);
  if (role == StateRole) return static_cast<int>(doc_->node_state(c));
  if (role == Qt::ToolTipRole) return QString::fromStdString(doc_->model().site(x.site).str());
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case ContextColumn: return QString::fromStdString(doc_->context_title(c));
    case SiteColumn: return QString::fromStdString(doc_->short_site(x.site));
    case StateColumn: return QString::fromUtf8(to_string(doc_->node_state(c)));
    case CreatedColumn: return time_text(x.created_ns);
    case DoneColumn: return time_text(x.cancel_ns);
  }
  return {};
}

QVariant ContextTreeModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case ContextColumn: return tr("Context");
    case SiteColumn: return tr("Site");
    case StateColumn: return tr("State");
    case CreatedColumn: return tr("Created");
    case DoneColumn: return tr("Done");
  }
  return {};
}

}  // namespace ctxscope::viewer
