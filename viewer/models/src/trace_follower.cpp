#include "ctxscope/viewer/trace_follower.hpp"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QMetaObject>
#include <QTimer>
#include <cerrno>
#include <csignal>
#include <optional>

#include "ctxscope/analysis/analyzer.hpp"
#include "ctxscope/trace_reader.hpp"

namespace ctxscope::viewer {

const char* to_string(TraceFollower::RunState s) noexcept {
  switch (s) {
    case TraceFollower::RunState::running: return "running";
    case TraceFollower::RunState::ended: return "ended";
    case TraceFollower::RunState::died: return "incomplete (the program died: no end marker)";
  }
  return "?";
}

namespace {

bool process_gone(std::int64_t pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH;
}

/// One follow: lives on the worker thread, polled by a timer there.
struct FollowJob {
  std::string path;
  std::optional<trace::TraceReader> reader;
  analysis::TraceModel model;           // private: what update() is asked against
  std::optional<analysis::Report> report;
  DocumentPtr last;                     // the last document published (shares the model's chunks)
  analysis::ModelDelta pending;         // what the model did since `last`
  double analyze_ms = 0;                // how long the rules took last time
  QElapsedTimer since_publish, since_analyze;
  bool dirty = true, published = false;
  std::int64_t pid = 0;
  int open_tries = 0;
};

}  // namespace

TraceFollower::TraceFollower(QObject* parent) : QObject(parent) {
  qRegisterMetaType<ctxscope::viewer::DocumentPtr>("ctxscope::viewer::DocumentPtr");
  qRegisterMetaType<ctxscope::viewer::TraceFollower::RunState>("ctxscope::viewer::TraceFollower::RunState");
  worker_ = new QObject;
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  thread_.setObjectName("ctxscope-viewer-follow");
  thread_.start();
}

TraceFollower::~TraceFollower() {
  if (stop_flag_) stop_flag_->store(true);
  thread_.quit();
  thread_.wait();
}

void TraceFollower::dispose(DocumentPtr doc) {
  if (!doc) return;
  // The lambda (and with it the last reference) is destroyed on the worker.
  QMetaObject::invokeMethod(worker_, [d = std::move(doc)]() mutable { d.reset(); }, Qt::QueuedConnection);
}

void TraceFollower::stop() {
  if (stop_flag_) stop_flag_->store(true);
  stop_flag_.reset();
  active_ = false;
  ++gen_;
}

void TraceFollower::follow(const QString& path) {
  stop();
  path_ = path;
  auto flag = std::make_shared<std::atomic<bool>>(false);
  stop_flag_ = flag;
  active_ = true;
  const std::uint64_t gen = ++gen_;
  const int interval = interval_ms_, publish_ms = publish_ms_, analyze_ms = analyze_ms_;
  QMetaObject::invokeMethod(worker_, [this, path, flag, gen, interval, publish_ms, analyze_ms] {
    auto job = std::make_shared<FollowJob>();
    job->path = path.toStdString();
    auto* timer = new QTimer(worker_);
    timer->setInterval(interval);
    auto finish = [timer] {
      timer->stop();
      timer->deleteLater();
    };
    auto send = [this, gen](DocumentPtr doc, RunState st) {
      QMetaObject::invokeMethod(this, [this, gen, doc, st] {
        if (gen == gen_) emit updated(doc, st);
      }, Qt::QueuedConnection);
    };
    auto fail = [this, gen, path](const std::string& m) {
      QMetaObject::invokeMethod(this, [this, gen, path, m] {
        if (gen != gen_) return;
        active_ = false;
        emit failed(path, QString::fromStdString(m));
      }, Qt::QueuedConnection);
    };
    QObject::connect(timer, &QTimer::timeout, worker_, [=] {
      if (flag->load()) return finish();
      try {
        if (!job->reader) {
          if (!QFileInfo::exists(path)) return;  // not written yet: wait for it
          std::string err;
          job->reader = trace::TraceReader::open(job->path, &err, /*quick_check=*/false);
          if (!job->reader) {
            // A file being created may not hold a schema yet: only a file that
            // stays unreadable is an error (a second try after one interval).
            if (++job->open_tries > 20) {
              fail(err);
              return finish();
            }
            return;
          }
          job->model = analysis::TraceModel::load(job->reader->db());
          job->pid = job->model.run().pid;
          job->since_publish.start();
          job->since_analyze.invalidate();
        } else {
          auto d = job->model.update(job->reader->db());
          if (!d.empty()) {
            job->dirty = true;
            job->pending.merge(d);
          }
        }
        const bool complete = job->model.run().complete;
        RunState st = complete ? RunState::ended : RunState::running;
        if (!complete && !job->dirty && process_gone(job->pid)) st = RunState::died;
        const bool due = !job->published || job->since_publish.elapsed() >= publish_ms || complete || st == RunState::died;
        if ((job->dirty && due) || st != RunState::running) {
          // Publish: a copy of the followed model (a snapshot at this commit
          // that shares the model's chunks), the document derived from the
          // last one by what changed since; the rules at their rate — at
          // most a fifth of the time (they read the whole file), at least
          // every analyze_ms.
          analysis::TraceModel fresh = job->model;
          const double rules_every = std::max<double>(analyze_ms, 5 * job->analyze_ms);
          if (!job->report || complete || st == RunState::died || !job->since_analyze.isValid() ||
              static_cast<double>(job->since_analyze.elapsed()) >= rules_every) {
            QElapsedTimer rules;
            rules.start();
            job->report = analysis::analyze(job->reader->db(), analysis::Options{});
            job->report->run.trace_path = job->path;
            job->analyze_ms = static_cast<double>(rules.nsecsElapsed()) / 1e6;
            job->since_analyze.start();
          }
          auto warnings = job->reader->warnings();
          auto doc = job->last ? std::make_shared<const TraceDocument>(*job->last, std::move(fresh), job->pending,
                                                                       *job->report, std::move(warnings))
                               : std::make_shared<const TraceDocument>(job->path, std::move(fresh), *job->report,
                                                                       std::move(warnings));
          job->last = doc;
          job->pending = {};
          send(doc, st);
          job->dirty = false;
          job->published = true;
          job->since_publish.start();
        }
        if (st != RunState::running) finish();
      } catch (const std::exception& e) {
        fail(job->path + ": " + e.what());
        finish();
      }
    });
    timer->start();
  });
}

}  // namespace ctxscope::viewer
