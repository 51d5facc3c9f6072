#include "ctxscope/viewer/trace_loader.hpp"

#include <QMetaObject>

namespace ctxscope::viewer {

TraceLoader::TraceLoader(QObject* parent) : QObject(parent) {
  qRegisterMetaType<ctxscope::viewer::DocumentPtr>("ctxscope::viewer::DocumentPtr");
  qRegisterMetaType<ctxscope::viewer::DiffPtr>("ctxscope::viewer::DiffPtr");
  worker_ = new QObject;
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  thread_.setObjectName("ctxscope-viewer-loader");
  thread_.start();
}

TraceLoader::~TraceLoader() {
  if (cancel_flag_) cancel_flag_->store(true);
  thread_.quit();
  thread_.wait();
}

void TraceLoader::load(const QString& path) {
  start(path, [p = path.toStdString(), min = preview_min_events_](const auto& progress, const auto& preview,
                                                                  std::string* err, bool* cancelled, DocumentPtr* doc,
                                                                  DiffPtr*) {
    *doc = load_document(p, err, progress, cancelled, preview, min);
  });
}

void TraceLoader::load_pair(const QString& a, const QString& b) {
  start(b, [pa = a.toStdString(), pb = b.toStdString()](const auto& progress, const auto&, std::string* err,
                                                         bool* cancelled, DocumentPtr*, DiffPtr* diff) {
    *diff = load_diff(pa, pb, err, progress, cancelled);
  });
}

void TraceLoader::start(const QString& path, Job job) {
  if (cancel_flag_) cancel_flag_->store(true);  // supersede
  auto flag = std::make_shared<std::atomic<bool>>(false);
  cancel_flag_ = flag;
  const std::uint64_t gen = ++generation_;
  busy_ = true;
  emit started(path);
  // The lambda runs on the worker thread; results come back queued to this
  // object's thread, where a stale generation is dropped.
  QMetaObject::invokeMethod(worker_, [this, path, flag, gen, job = std::move(job)] {
    std::string err;
    bool was_cancelled = false;
    int last = -1;
    DocumentPtr doc;
    DiffPtr diff;
    job(
        [&](double f) {
          const int pm = static_cast<int>(f * 1000);
          if (pm != last) {
            last = pm;
            QMetaObject::invokeMethod(this, [this, pm, gen] {
              if (gen == generation_) emit progress(pm);
            }, Qt::QueuedConnection);
          }
          return !flag->load();
        },
        [&](DocumentPtr first) {
          if (flag->load()) return;
          QMetaObject::invokeMethod(this, [this, first = std::move(first), gen] {
            if (gen == generation_) emit previewLoaded(first);
          }, Qt::QueuedConnection);
        },
        &err, &was_cancelled, &doc, &diff);
    if (flag->load() && (doc || diff)) {
      doc.reset();
      diff.reset();
      was_cancelled = true;
    }
    QMetaObject::invokeMethod(this, [this, path, doc, diff, err, was_cancelled, gen] {
      if (gen != generation_) return;
      busy_ = false;
      if (doc) emit loaded(doc);
      else if (diff) emit diffLoaded(diff);
      else if (was_cancelled) emit cancelled(path);
      else emit failed(path, QString::fromStdString(err));
    }, Qt::QueuedConnection);
  });
}

void TraceLoader::cancel() {
  if (cancel_flag_) cancel_flag_->store(true);
}

}  // namespace ctxscope::viewer
