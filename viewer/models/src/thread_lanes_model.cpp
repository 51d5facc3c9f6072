#include "ctxscope/viewer/thread_lanes_model.hpp"

namespace ctxscope::viewer {

using analysis::kNoIndex;
using analysis::kNoTime;

ThreadLanesModel::ThreadLanesModel(QObject* parent) : QAbstractTableModel(parent) {}

void ThreadLanesModel::set_document(DocumentPtr doc) {
  beginResetModel();
  doc_ = std::move(doc);
  stuck_.clear();
  if (doc_) {
    for (auto t : doc_->lanes()) {
      int n = 0;
      for (auto w : doc_->model().threads()[t].waits) n += doc_->wait_style(w) == WaitStyle::stuck;
      stuck_.push_back(n);
    }
  }
  endResetModel();
}

int ThreadLanesModel::rowCount(const QModelIndex& parent) const {
  return doc_ && !parent.isValid() ? static_cast<int>(doc_->lanes().size()) : 0;
}
int ThreadLanesModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant ThreadLanesModel::data(const QModelIndex& index, int role) const {
  if (!doc_ || !index.isValid() || index.row() >= rowCount()) return {};
  const auto t = doc_->lanes()[index.row()];
  const auto& x = doc_->model().threads()[t];
  if (role == ThreadRole) return QVariant::fromValue<quint32>(t);
  if (role != Qt::DisplayRole) return {};
  auto time = [](std::int64_t ns) {
    return ns == kNoTime ? QStringLiteral("—") : QString::fromStdString(analysis::format_duration(ns));
  };
  switch (index.column()) {
    case ThreadColumn: return QString::fromStdString(doc_->thread_title(t));
    case ContextColumn: return x.ctx == kNoIndex ? QString() : QString::fromStdString(doc_->context_title(x.ctx));
    case StartColumn: return time(x.spawn_ns != kNoTime ? x.spawn_ns : x.first_ns);
    case EndColumn: return x.exit_ns == kNoTime ? tr("running at end") : time(x.exit_ns);
    case WaitsColumn: return static_cast<int>(x.waits.size());
    case StuckColumn: return stuck_[index.row()];
  }
  return {};
}

QVariant ThreadLanesModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case ThreadColumn: return tr("Thread");
    case ContextColumn: return tr("Context");
    case StartColumn: return tr("Start");
    case EndColumn: return tr("End");
    case WaitsColumn: return tr("Waits");
    case StuckColumn: return tr("Blocked at end");
  }
  return {};
}

}  // namespace ctxscope::viewer
