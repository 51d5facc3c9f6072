#include "ctxscope/viewer/trace_follower.hpp"

#include <QElapsedTimer>
#include <QFileInfo>
#include <QMetaObject>
#include <QTimer>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "ctxscope/analysis/analyzer.hpp"
#include "ctxscope/trace_reader.hpp"
#include "ctxscope/viewer/tree_geometry.hpp"

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

// The calling thread (a worker beside the GUI) yields the CPU to the GUI
// thread: a lower priority (nice is per thread on Linux) and SCHED_BATCH,
// under which its wake-ups (a poll every 15 ms) never preempt a running
// thread — the GUI in the middle of a paint.  Neither needs a privilege.
void yield_to_gui(int nice) {
  const sched_param none{};
  (void)::sched_setscheduler(0, SCHED_BATCH, &none);
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice);
}

bool process_gone(std::int64_t pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH;
}

double ms_since(const QElapsedTimer& t) { return static_cast<double>(t.nsecsElapsed()) / 1e6; }

/// The rules over the whole file, and how long they took.
analysis::Report run_rules(sqlite3* db, const std::string& path, double& ms) {
  QElapsedTimer clock;
  clock.start();
  analysis::Report r = analysis::analyze(db, analysis::Options{});
  r.run.trace_path = path;
  ms = ms_since(clock);
  return r;
}

/// What a follow does off its worker, on a thread of its own, so that no
/// publish waits for it: the rules (they read the whole file: their own
/// connection) and the tree's whole layout (of a published document, which is
/// immutable).  The worker asks when they are due and collects the results
/// at a later poll; one job at a time.
class SideWork {
 public:
  explicit SideWork(std::string path) : path_(std::move(path)), thread_([this] { run(); }) {}
  ~SideWork() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  SideWork(const SideWork&) = delete;
  SideWork& operator=(const SideWork&) = delete;

  bool idle() {
    std::lock_guard lock(mu_);
    return !busy_ && !want_rules_ && !want_tree_;
  }
  void ask(bool rules, DocumentPtr tree_of) {
    {
      std::lock_guard lock(mu_);
      want_rules_ = want_rules_ || rules;
      if (tree_of) want_tree_ = std::move(tree_of);
    }
    cv_.notify_all();
  }
  std::optional<analysis::Report> take_report(double& ms) {
    std::lock_guard lock(mu_);
    ms = rules_ms_;
    return std::exchange(report_, std::nullopt);
  }
  std::unique_ptr<TreeGeometry> take_tree(double& ms) {
    std::lock_guard lock(mu_);
    ms = tree_ms_;
    return std::move(tree_);
  }

 private:
  void run() {
    // Below the follow worker and the GUI on a busy machine (Linux nice is
    // per thread): a publish must not wait for a core behind the rules.
    yield_to_gui(10);
    std::optional<trace::TraceReader> reader;
    for (;;) {
      bool rules = false;
      DocumentPtr doc;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || want_rules_ || want_tree_; });
        if (stop_) return;
        rules = std::exchange(want_rules_, false);
        doc = std::move(want_tree_);
        want_tree_.reset();
        busy_ = true;
      }
      std::optional<analysis::Report> report;
      std::unique_ptr<TreeGeometry> tree;
      double rules_ms = 0, tree_ms = 0;
      if (rules) {
        try {
          std::string err;
          if (!reader) reader = trace::TraceReader::open(path_, &err, /*quick_check=*/false);
          if (reader) report = run_rules(reader->db(), path_, rules_ms);
        } catch (const std::exception&) {  // the worker's own reads report a broken file
        }
      }
      if (doc) {
        QElapsedTimer clock;
        clock.start();
        tree = std::make_unique<TreeGeometry>(tree_geometry(*doc, nullptr, {}));
        // Room for the contexts the scene will place after it, so that
        // growing these arrays on the GUI thread does not move them.
        // The large inner arrays too (a parent of many children, a wide level):
        // otherwise the first push after the adopt copies megabytes into fresh
        // pages, a page fault per 4 KiB, on the GUI thread.
        auto room = [](auto& v) { v.reserve(v.size() + v.size() / 2 + 4096); };
        room(tree->kids), room(tree->x), room(tree->depth), room(tree->drawn_flag), room(tree->hidden_below),
            room(tree->drawn);
        for (auto* nested : {&tree->kids, &tree->rows})
          for (auto& v : *nested)
            if (v.size() >= 4096) room(v);
        tree_ms = ms_since(clock);
        doc.reset();  // a replaced document may be freed here, off the GUI thread
      }
      std::lock_guard lock(mu_);
      if (report) report_ = std::move(report), rules_ms_ = rules_ms;
      if (tree) tree_ = std::move(tree), tree_ms_ = tree_ms;
      busy_ = false;
    }
  }

  std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, busy_ = false, want_rules_ = false;
  DocumentPtr want_tree_;
  std::optional<analysis::Report> report_;
  std::unique_ptr<TreeGeometry> tree_;
  double rules_ms_ = 0, tree_ms_ = 0;
  std::thread thread_;  // last: starts when the rest is ready
};

/// One follow: lives on the worker thread, polled by a timer there.
struct FollowJob {
  std::string path;
  std::optional<trace::TraceReader> reader;
  analysis::TraceModel model;           // private: what update() is asked against
  std::optional<analysis::Report> report;
  DocumentPtr last;                     // the last document published (shares the model's chunks)
  analysis::ModelDelta pending;         // what the model did since `last`
  std::unique_ptr<TreeGeometry> tree;   // a whole layout from the side thread, for the next document
  double analyze_ms = 0, layout_ms = 0; // how long the rules / a whole layout took last time
  QElapsedTimer since_layout;
  bool grew = false;                    // this poll's update found rows
  bool rules_stale = false, layout_stale = false;  // rows came since the side thread was last asked
  std::unique_ptr<SideWork> side;       // last: joined first when the job goes
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
  // Reading and deriving documents yields to the GUI thread on a busy
  // machine (nice is per thread on Linux): a repaint must not wait for a core
  // behind a poll.  The side thread (rules, whole layouts) is lower still.
  QMetaObject::invokeMethod(worker_, [] { yield_to_gui(4); });
}

TraceFollower::~TraceFollower() {
  if (stop_flag_) stop_flag_->store(true);
  thread_.quit();
  thread_.wait();
}

void TraceFollower::dispose(std::shared_ptr<const void> garbage) {
  if (!garbage) return;
  // The lambda (and with it the last reference) is destroyed on the worker.
  QMetaObject::invokeMethod(worker_, [g = std::move(garbage)]() mutable { g.reset(); }, Qt::QueuedConnection);
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
            job->dirty = job->grew = true;
            job->rules_stale = job->layout_stale = true;
            job->pending.merge(d);
          }
        }
        // What the side thread finished since the last poll.
        double ms = 0;
        if (job->side) {
          if (auto r = job->side->take_report(ms)) {
            job->report = std::move(r);
            job->analyze_ms = ms;
            job->dirty = true;  // findings update as the rules see them
          }
          if (auto t = job->side->take_tree(ms)) {
            job->tree = std::move(t);
            job->layout_ms = ms;
            job->dirty = true;
          }
        }
        const bool complete = job->model.run().complete;
        RunState st = complete ? RunState::ended : RunState::running;
        if (!complete && !job->grew && process_gone(job->pid)) st = RunState::died;
        job->grew = false;
        const bool final = st != RunState::running;
        const bool due = !job->published || job->since_publish.elapsed() >= publish_ms || final;
        if ((job->dirty && due) || final) {
          // Publish: a snapshot of the followed model (a copy sharing its
          // chunks) and the document derived from the last one by what
          // changed since.  The first and the last document are whole and
          // exact (rules and layout here); in between, the rules' latest
          // findings and the side thread's latest layout (the scene places
          // what came after it).
          analysis::TraceModel fresh = job->model;
          if (!job->report || final) {
            job->report = run_rules(job->reader->db(), job->path, job->analyze_ms);
            job->since_analyze.start();
          }
          auto warnings = job->reader->warnings();
          std::shared_ptr<TraceDocument> doc;
          if (!job->last) {
            doc = std::make_shared<TraceDocument>(job->path, std::move(fresh), *job->report, std::move(warnings));
          } else {
            doc = std::make_shared<TraceDocument>(*job->last, std::move(fresh), job->pending, *job->report,
                                                  std::move(warnings), /*lay_out_tree=*/final);
            if (!final && job->tree) doc->set_default_tree(std::move(job->tree));
          }
          job->tree.reset();
          job->last = doc;
          job->pending = {};
          send(doc, st);
          job->dirty = false;
          job->published = true;
          job->since_publish.start();
          if (!final) {
            // The rules at most a fifth of the time (at least analyze_ms
            // apart); a whole layout likewise (at least a publish apart).
            if (!job->side) job->side = std::make_unique<SideWork>(job->path);
            const bool rules_due = job->rules_stale && (!job->since_analyze.isValid() ||
                                   ms_since(job->since_analyze) >= std::max<double>(analyze_ms, 5 * job->analyze_ms));
            const bool layout_due = job->layout_stale && (!job->since_layout.isValid() ||
                                    ms_since(job->since_layout) >= std::max<double>(publish_ms, 5 * job->layout_ms));
            if ((rules_due || layout_due) && job->side->idle()) {
              job->side->ask(rules_due, layout_due ? DocumentPtr(doc) : nullptr);
              if (rules_due) job->since_analyze.start(), job->rules_stale = false;
              if (layout_due) job->since_layout.start(), job->layout_stale = false;
            }
          }
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
