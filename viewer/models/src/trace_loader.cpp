#include "ctxscope/viewer/trace_loader.hpp"

#include <QMetaObject>

namespace ctxscope::viewer {

TraceLoader::TraceLoader(QObject* parent) : QObject(parent) {
  qRegisterMetaType<ctxscope::viewer::DocumentPtr>("ctxscope::viewer::DocumentPtr");
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
  if (cancel_flag_) cancel_flag_->store(true);  // supersede
  auto flag = std::make_shared<std::atomic<bool>>(false);
  cancel_flag_ = flag;
  const std::uint64_t gen = ++generation_;
  busy_ = true;
  emit started(path);
  // The lambda runs on the worker thread; results come back queued to this
  // object's thread, where a stale generation is dropped.
  QMetaObject::invokeMethod(worker_, [this, path, flag, gen] {
    std::string err;
    bool was_cancelled = false;
    int last = -1;
    auto doc = load_document(
        path.toStdString(), &err,
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
        &was_cancelled);
    if (flag->load() && doc) { doc.reset(); was_cancelled = true; }
    QMetaObject::invokeMethod(this, [this, path, doc, err, was_cancelled, gen] {
      if (gen != generation_) return;
      busy_ = false;
      if (doc) emit loaded(doc);
      else if (was_cancelled) emit cancelled(path);
      else emit failed(path, QString::fromStdString(err));
    }, Qt::QueuedConnection);
  });
}

void TraceLoader::cancel() {
  if (cancel_flag_) cancel_flag_->store(true);
}

}  // namespace ctxscope::viewer
