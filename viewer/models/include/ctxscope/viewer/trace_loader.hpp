// ctxscope/viewer/trace_loader.hpp — loads a trace on a worker thread.
//
//   TraceLoader loader;
//   connect(&loader, &TraceLoader::progress, bar, &QProgressBar::setValue);   // 0..1000
//   connect(&loader, &TraceLoader::loaded, this, &MainWindow::show_document);
//   connect(&loader, &TraceLoader::failed, this, &MainWindow::show_error);
//   loader.load("run.db");
//
// The worker opens the file with the trace reader, builds the trace model and
// runs the rule engine (load_document); the GUI thread only receives typed
// signals (queued), so the window stays responsive.  cancel() stops a load at
// the model's next progress call; a load started while another runs supersedes
// it (the older one's result is dropped, never delivered).
//
// Thread safety: call load()/cancel() from the thread that owns the loader.
#pragma once

#include <QObject>
#include <QString>
#include <QThread>
#include <atomic>
#include <functional>
#include <memory>

#include "ctxscope/viewer/trace_diff.hpp"
#include "ctxscope/viewer/trace_document.hpp"

namespace ctxscope::viewer {

class TraceLoader : public QObject {
  Q_OBJECT
 public:
  explicit TraceLoader(QObject* parent = nullptr);
  ~TraceLoader() override;

  /// Starts loading `path` (superseding any load in progress).
  void load(const QString& path);
  /// Starts loading two runs and comparing them (load_diff; superseding any
  /// load in progress): `diffLoaded`, or `failed` naming the bad file.
  void load_pair(const QString& a, const QString& b);
  /// Asks the current load to stop; `cancelled` follows.
  void cancel();
  bool busy() const noexcept { return busy_; }
  /// Runs of this many events or more show a preview first (previewLoaded).
  void set_preview_min_events(std::uint64_t n) noexcept { preview_min_events_ = n; }

 signals:
  void started(const QString& path);
  /// Fraction done, 0..1000.
  void progress(int permille);
  /// A large run's first rows (TraceDocument::preview), before `loaded`.
  void previewLoaded(ctxscope::viewer::DocumentPtr document);
  void loaded(ctxscope::viewer::DocumentPtr document);
  void diffLoaded(ctxscope::viewer::DiffPtr diff);
  /// One line naming the file and the problem.
  void failed(const QString& path, const QString& message);
  void cancelled(const QString& path);

 private:
  // Runs `job` on the worker with a progress callback that also answers
  // "go on?" and a preview callback; its result (doc or diff, else err) comes
  // back queued.
  using Job = std::function<void(const std::function<bool(double)>& progress,
                                 const std::function<void(DocumentPtr)>& preview, std::string* err, bool* cancelled,
                                 DocumentPtr* doc, DiffPtr* diff)>;
  void start(const QString& path, Job job);

  QThread thread_;
  QObject* worker_ = nullptr;  // lives on thread_
  std::shared_ptr<std::atomic<bool>> cancel_flag_;
  std::atomic<std::uint64_t> generation_{0};
  bool busy_ = false;
  std::uint64_t preview_min_events_ = kPreviewMinEvents;
};

}  // namespace ctxscope::viewer

Q_DECLARE_METATYPE(ctxscope::viewer::DocumentPtr)
Q_DECLARE_METATYPE(ctxscope::viewer::DiffPtr)
