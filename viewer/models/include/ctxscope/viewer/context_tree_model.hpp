// ctxscope/viewer/context_tree_model.hpp — the context tree as a Qt item model.
//
// One row per context, children under their parent in creation order, the
// trace's roots (background, todo, orphans) at the top level.  Columns: the
// context ("ctx#1026 timeout"), its creation site, its state at the end of
// the run (NodeState, with the lost-cancel verdict), created, done.  Each
// index's internalId is the context's index in the TraceModel; ContextRole
// gives it as data.  Qt Core only: the drawn tree (scene/) and the side
// panel's QTreeView both read it.
//
// Thread safety: GUI thread.  set_document() resets the model.
#pragma once

#include <QAbstractItemModel>

#include "ctxscope/viewer/trace_document.hpp"

namespace ctxscope::viewer {

class ContextTreeModel : public QAbstractItemModel {
  Q_OBJECT
 public:
  enum Column { ContextColumn, SiteColumn, StateColumn, CreatedColumn, DoneColumn, ColumnCount };
  enum Role { ContextRole = Qt::UserRole + 1, StateRole };

  explicit ContextTreeModel(QObject* parent = nullptr);
  void set_document(DocumentPtr doc);
  const DocumentPtr& document() const noexcept { return doc_; }

  /// The index of a context (column 0), or an invalid index.
  QModelIndex index_of_context(std::uint32_t context) const;

  QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
  QModelIndex parent(const QModelIndex& child) const override;
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

 private:
  DocumentPtr doc_;
};

}  // namespace ctxscope::viewer
