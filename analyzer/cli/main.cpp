// ctxscope — analyse ctxscope traces; the CI gate.
//
//   ctxscope run [opts] -- prog args...   trace a program, analyse, report
//   ctxscope analyze FILE                  report findings (exit 0 unless --fail-on)
//   ctxscope check FILE --fail-on=LEVEL    the CI gate
//   ctxscope stats FILE                    counts, depths, cancel latency
//   ctxscope export FILE --format chrome   Chrome / Perfetto trace JSON
//
// Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input error.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <streambuf>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "ctxscope/analysis/analyzer.hpp"
#include "ctxscope/analysis/diff.hpp"
#include "ctxscope/analysis/trace_model.hpp"
#include "ctxscope/analysis/stats.hpp"
#include "ctxscope/analysis/suppressions.hpp"
#include "ctxscope/trace_reader.hpp"
#include "ctxscope/version.hpp"

extern char** environ;

namespace {

// A closed stdout or stderr (`ctxscope analyze t.db >&-`) would let the next
// open() take fd 1 or 2, and the report would be written into that file (the
// trace itself).  Each closed one is filled with /dev/null opened read-only, so
// that every write to it fails (EBADF) and is reported like any other write error.
struct NoClosedStdio {
  NoClosedStdio() {
    for (int fd = 0; fd <= 2; ++fd) {
      if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
      const int n = ::open("/dev/null", O_RDONLY);
      if (n >= 0 && n != fd) {
        dup2(n, fd);
        ::close(n);
      }
    }
  }
};
NoClosedStdio g_no_closed_stdio __attribute__((init_priority(101)));

using namespace ctxscope::analysis;

constexpr int kExitClean = 0, kExitFindings = 1, kExitUsage = 2;

struct ReportOpts {
  std::string format = "text";
  std::string fail_on = "never";
  std::string output;
  std::vector<std::string> suppress_files;
  std::vector<std::string> rules;
  std::vector<std::string> ignore;
  double blind_grace_ms = Options{}.blind_wait_grace_ns / 1e6;
  double late_grace_ms = Options{}.late_exit_grace_ns / 1e6;
  bool quiet_progress = false;
  bool gate = false;              // check / run: an incomplete run fails the gate
  bool allow_incomplete = false;  // --allow-incomplete
  std::string source_root;        // --source-root: "" = default, "none" = absolute paths
  std::string color = "auto";     // --color
  bool quiet = false;             // --quiet
};

void add_report_options(CLI::App* c, ReportOpts& o, bool check) {
  c->add_option("--format", o.format, "text | json | sarif | junit")
      ->check(CLI::IsMember({"text", "json", "sarif", "junit"}));
  c->add_option("--fail-on", o.fail_on,
                check ? "error | warning | never: exit 1 when a finding is at or above it (default error)"
                      : "error | warning | never (default never)")
      ->check(CLI::IsMember({"error", "warning", "never"}));
  c->add_option("-o,--output", o.output, "write the report to FILE instead of stdout");
  c->add_option("--suppress", o.suppress_files, "suppressions file (lines 'rule:site-glob'); repeatable");
  c->add_option("--source-root", o.source_root,
                "paths in the report are relative to DIR (default: the git top level of the traced sources, else the "
                "current directory; 'none': absolute paths)");
  // The choices are the catalogue's ids (ctxscope/rule_catalogue.hpp).
  std::vector<std::string> ids;
  for (const auto& r : ctxscope::rule_catalogue::rules()) ids.emplace_back(r.id);
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "" : " | ") + id;
  c->add_option("--rules", o.rules, "run only these rules (comma-separated or repeated): " + list)
      ->delimiter(',')
      ->check(CLI::IsMember(ids));
  c->add_option("--ignore", o.ignore, "do not report RULE, count its findings as suppressed; repeatable")
      ->delimiter(',')
      ->check(CLI::IsMember(ids));
  c->add_option("--blind-wait-grace-ms", o.blind_grace_ms, "blind-wait grace period")->check(CLI::NonNegativeNumber);
  c->add_option("--late-exit-grace-ms", o.late_grace_ms, "late-exit grace period")->check(CLI::NonNegativeNumber);
  c->add_flag("--no-progress", o.quiet_progress, "never print the progress line on stderr");
  c->add_option("--color", o.color,
                "auto (default: when stdout is a terminal and NO_COLOR is unset) | always | never: colour the text "
                "report")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  c->add_flag("-q,--quiet", o.quiet, "text report: the summary line only");
  o.gate = check;
  if (check)
    c->add_flag("--allow-incomplete", o.allow_incomplete,
                "gate on what was recorded even when the run is incomplete (killed, still running, or its "
                "recording failed); without it such a run exits 2");
}

// A progress line on stderr, only once the analysis has taken more than a second.
class ProgressLine {
 public:
  ProgressLine(std::string file, bool enabled) : file_(std::move(file)) {
    if (enabled) th_ = std::thread([this] { loop(); });
  }
  ~ProgressLine() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_ = true;
    }
    cv_.notify_all();
    if (th_.joinable()) th_.join();
    if (printed_) std::fprintf(stderr, "\n");
  }
  void update(std::string_view what, int step, int steps) {
    std::lock_guard<std::mutex> g(m_);
    what_ = std::string(what);
    step_ = step;
    steps_ = steps;
  }

 private:
  void loop() {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> l(m_);
    if (cv_.wait_for(l, std::chrono::seconds(1), [&] { return stop_; })) return;
    const bool tty = isatty(STDERR_FILENO);
    do {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "%sctxscope: analysing %s: %s (%d/%d), %.0f s%s", tty ? "\r\033[K" : "", file_.c_str(),
                   what_.c_str(), step_ + 1, steps_, s, tty ? "" : "\n");
      std::fflush(stderr);
      printed_ = tty;
    } while (!cv_.wait_for(l, std::chrono::seconds(1), [&] { return stop_; }));
  }
  std::string file_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false, printed_ = false;
  std::string what_ = "opening";
  int step_ = 0, steps_ = 1;
  std::thread th_;
};

// Writes all of `data` to `fd`; false with errno set on the first error.
bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t k = ::write(fd, data, n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return false;
    if (k == 0) {
      errno = EIO;
      return false;
    }
    data += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

// An ostream target over a file descriptor that remembers the first write
// error (std::ofstream forgets errno, and a failed flush at destruction is silent).
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof buf_); }
  int error() const { return err_; }
  bool finish() { return drain() && err_ == 0; }

 protected:
  int_type overflow(int_type c) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    if (err_) return false;
    if (!write_all(fd_, pbase(), static_cast<std::size_t>(pptr() - pbase()))) {
      err_ = errno;
      return false;
    }
    setp(buf_, buf_ + sizeof buf_);
    return true;
  }
  int fd_;
  int err_ = 0;
  char buf_[1 << 16];
};

// An output file opened for writing (stdout when `path` is empty), checked at
// every write and at close.
class Output {
 public:
  explicit Output(std::string path) : path_(std::move(path)) {}
  ~Output() {
    if (fd_ > 1) ::close(fd_);
  }
  bool open() {
    if (path_.empty()) {
      fd_ = STDOUT_FILENO;
    } else {
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
      if (fd_ < 0) return report(errno, "cannot create");
    }
    buf_ = std::make_unique<FdBuf>(fd_);
    os_ = std::make_unique<std::ostream>(buf_.get());
    return true;
  }
  std::ostream& stream() { return *os_; }
  // Flushes and closes; false (with the message printed) if any write failed.
  bool close() {
    os_->flush();
    if (!buf_->finish()) return report(buf_->error(), "cannot write");
    if (fd_ > 1) {
      const int fd = fd_;
      fd_ = -1;
      if (::close(fd) != 0) return report(errno, "cannot write");
    }
    return true;
  }

 private:
  bool report(int e, const char* what) {
    std::fprintf(stderr, "ctxscope: %s: %s: %s\n", path_.empty() ? "<stdout>" : path_.c_str(), what,
                 std::strerror(e));
    return false;
  }
  std::string path_;
  int fd_ = -1;
  std::unique_ptr<FdBuf> buf_;
  std::unique_ptr<std::ostream> os_;
};

bool write_out(const std::string& path, const std::string& text) {
  Output out(path);
  if (!out.open()) return false;
  out.stream().write(text.data(), static_cast<std::streamsize>(text.size()));
  return out.close();
}

// An output file that is the input trace (or its -wal / -shm), by inode: `-o
// t.db` would replace the trace with its own report.
bool output_is_input(const std::string& out, const std::string& in) {
  if (out.empty()) return false;
  struct stat so{};
  if (::stat(out.c_str(), &so) != 0) return false;
  for (const char* suf : {"", "-wal", "-shm"}) {
    struct stat si{};
    if (::stat((in + suf).c_str(), &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
      std::fprintf(stderr, "ctxscope: %s: refusing to write the output over the trace it reads (%s%s)\n", out.c_str(),
                   in.c_str(), suf);
      return true;
    }
  }
  return false;
}

// Grace periods: milliseconds that must convert to int64 nanoseconds.
bool valid_grace(const char* flag, double ms) {
  constexpr double kMaxMs = 9.2e12;  // INT64_MAX ns is 9.22e12 ms
  if (std::isfinite(ms) && ms >= 0 && ms <= kMaxMs) return true;
  std::fprintf(stderr, "ctxscope: %s %g: must be a number of milliseconds from 0 to %.1e\n", flag, ms, kMaxMs);
  return false;
}

// Analyse `file` and print the report; returns the exit code.
int report_file(const std::string& file, const ReportOpts& o) {
  if (!valid_grace("--blind-wait-grace-ms", o.blind_grace_ms) || !valid_grace("--late-exit-grace-ms", o.late_grace_ms))
    return kExitUsage;
  if (output_is_input(o.output, file)) return kExitUsage;
  Options opts;
  opts.blind_wait_grace_ns = static_cast<std::int64_t>(o.blind_grace_ms * 1e6);
  opts.late_exit_grace_ns = static_cast<std::int64_t>(o.late_grace_ms * 1e6);
  opts.rules.insert(o.rules.begin(), o.rules.end());
  opts.ignore.insert(o.ignore.begin(), o.ignore.end());
  Suppressions sup;
  for (const auto& s : o.suppress_files) {
    std::string err;
    if (!sup.load(s, &err)) {
      std::fprintf(stderr, "ctxscope: %s\n", err.c_str());
      return kExitUsage;
    }
  }
  Format fmt{};
  parse_format(o.format, fmt);

  Report rep;
  std::string err;
  bool ok;
  {
    ProgressLine progress(file, !o.quiet_progress);
    ok = analyze_file(file, opts, rep, &err,
                      [&](std::string_view what, int step, int steps) { progress.update(what, step, steps); });
  }
  if (!ok) {
    std::fprintf(stderr, "ctxscope: %s\n", err.c_str());
    return kExitUsage;
  }
  if (o.source_root != "none") {
    std::string root = o.source_root.empty() ? default_source_root(rep) : o.source_root;
    std::error_code ec;
    const auto abs = std::filesystem::weakly_canonical(root, ec);
    relativize_paths(rep, ec ? root : abs.string());
  }
  sup.apply(rep);  // after: suppressions match the relative paths
  // Run warnings go to stderr too, so a JSON/SARIF consumer on stdout still
  // lets a human see that the run ended abnormally.
  for (const auto& w : rep.warnings) std::fprintf(stderr, "ctxscope: %s: warning: %s\n", file.c_str(), w.c_str());
  TextStyle style;
  {
    const char* no_color = std::getenv("NO_COLOR");
    const char* term = std::getenv("TERM");
    const bool tty = o.output.empty() && isatty(STDOUT_FILENO) && !(term && std::strcmp(term, "dumb") == 0);
    style.color = o.color == "always" || (o.color == "auto" && tty && !(no_color && *no_color));
    style.quiet = o.quiet;
  }
  if (!write_out(o.output, render(rep, fmt, style))) return kExitUsage;
  Severity level = Severity::error;
  parse_severity(o.fail_on, level);
  const bool findings = o.fail_on != "never" && rep.count_at_least(level) > 0;
  // A gate must not pass a run it saw only part of: "0 findings" of a killed
  // run, or of one whose recording failed, says nothing about the rest.
  if (o.gate && !rep.run.complete && !o.allow_incomplete && !findings) {
    std::fprintf(stderr,
                 "ctxscope: %s: incomplete run: findings may be missing; exit 2 (--allow-incomplete gates on what "
                 "was recorded)\n",
                 file.c_str());
    return kExitUsage;
  }
  return findings ? kExitFindings : kExitClean;
}

// SIGTERM / SIGINT / SIGHUP sent to `ctxscope run` (by kill, a CI runner's
// timeout...) go to the program too, so that it ends and `run` can analyse what
// was committed instead of leaving it orphaned.  A signal the kernel sent to the
// whole foreground process group (Ctrl-C, a terminal hangup) has reached the
// program already: not sent twice.  No handler runs: the signals stay blocked
// and `run` takes them with sigwaitinfo() beside SIGCHLD, so forwarding does
// not depend on when a handler gets to run (under ThreadSanitizer, a handler
// is deferred until the next intercepted call, and a restarted waitpid() never
// makes one).
constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP};

// A random token for CTXSCOPE_RUN_TOKEN: the child's recorder stores it in the
// run row, so `run` can tell its program's trace from a file another process wrote.
std::string make_run_token() {
  unsigned char b[16] = {};
  std::ifstream in("/dev/urandom", std::ios::binary);
  in.read(reinterpret_cast<char*>(b), sizeof b);
  std::string t;
  char h[3];
  for (unsigned char c : b) {
    std::snprintf(h, sizeof h, "%02x", c);
    t += h;
  }
  // Unique even if /dev/urandom was unreadable.
  return t + "-" + std::to_string(getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

// run --view: starts ctxscope-viewer --follow TRACE, detached (it outlives the
// run).  $CTXSCOPE_VIEWER, else the viewer beside this executable (install:
// same bindir; build tree: ../viewer/), else ctxscope-viewer on PATH.
void start_viewer(const std::string& trace) {
  std::string viewer;
  if (const char* v = std::getenv("CTXSCOPE_VIEWER"); v && *v) viewer = v;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (const auto& cand : {self / "ctxscope-viewer", self / ".." / "viewer" / "ctxscope-viewer"})
    if (viewer.empty() && !ec && access(cand.c_str(), X_OK) == 0) viewer = cand.string();
  if (viewer.empty()) viewer = "ctxscope-viewer";
  const pid_t pid = fork();
  if (pid == 0) {
    setsid();  // not in the program's process group: the terminal's signals are the program's
    if (fork() == 0) {  // orphaned at once: reaped by init, never by our waitpid loop
      execlp(viewer.c_str(), viewer.c_str(), "--follow", trace.c_str(), static_cast<char*>(nullptr));
      std::fprintf(stderr, "ctxscope: %s: cannot start the viewer: %s\n", viewer.c_str(), std::strerror(errno));
    }
    _exit(0);
  }
  if (pid > 0) waitpid(pid, nullptr, 0);
}

// Fork/exec `argv` with CTXSCOPE_TRACE=trace and CTXSCOPE_RUN_TOKEN=token;
// returns false with a message if the program could not be started.  The
// child's status goes to *status.
bool run_traced(const std::vector<std::string>& argv, const std::string& trace, const std::string& token, int* status,
                std::string* err) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    *err = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  // The forwarded signals and SIGCHLD are blocked from before the fork until
  // the child is reaped: none is lost, and each is taken synchronously below.
  // SIGQUIT is ignored (it reaches the child through the process group) so
  // that the tool survives to analyse.  SIGCHLD gets a no-op handler so that it
  // is queued while blocked whatever disposition `run` inherited.
  struct sigaction ign{}, chld{}, old_quit{}, old_chld{};
  ign.sa_handler = SIG_IGN;
  chld.sa_handler = [](int) {};
  sigemptyset(&chld.sa_mask);
  sigset_t block, old_mask;
  sigemptyset(&block);
  for (int sig : kForwarded) sigaddset(&block, sig);
  sigaddset(&block, SIGCHLD);
  sigprocmask(SIG_BLOCK, &block, &old_mask);
  sigaction(SIGQUIT, &ign, &old_quit);
  sigaction(SIGCHLD, &chld, &old_chld);
  auto restore = [&] {
    sigaction(SIGQUIT, &old_quit, nullptr);
    sigaction(SIGCHLD, &old_chld, nullptr);
    sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  };
  const pid_t pid = fork();
  if (pid < 0) {
    *err = std::string("fork: ") + std::strerror(errno);
    restore();
    close(pipefd[0]);
    close(pipefd[1]);
    return false;
  }
  if (pid == 0) {
    restore();
    setenv("CTXSCOPE_TRACE", trace.c_str(), 1);
    setenv("CTXSCOPE_RUN_TOKEN", token.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    const int e = errno;
    (void)!write(pipefd[1], &e, sizeof e);
    _exit(127);
  }
  close(pipefd[1]);
  int child_errno = 0;
  ssize_t got;
  while ((got = read(pipefd[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  const bool exec_failed = got == sizeof child_errno;
  close(pipefd[0]);
  int st = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    siginfo_t si{};
    const int sig = sigwaitinfo(&block, &si);
    // SI_USER, SI_QUEUE, SI_TKILL: from a process (not the terminal's group signal).
    if (sig > 0 && sig != SIGCHLD && si.si_code <= 0) kill(pid, sig);
  }
  restore();
  if (exec_failed) {
    *err = argv[0] + ": cannot run: " + std::strerror(child_errno);
    return false;
  }
  *status = st;
  return true;
}

}  // namespace

// `ctxscope diff A B`: each trace read whole (the trace model) and analysed,
// then compared (analysis/diff.hpp).
int diff_files(const std::string& a, const std::string& b, const std::string& format, const std::string& fail_on,
               const std::string& source_root) {
  struct Run {
    TraceModel model;
    Report report;
  };
  auto load = [&](const std::string& file, Run& r) {
    std::string err;
    auto reader = ctxscope::trace::TraceReader::open(file, &err, /*quick_check=*/false);
    if (!reader) {
      std::fprintf(stderr, "ctxscope: %s\n", err.c_str());
      return false;
    }
    for (const auto& w : reader->warnings()) std::fprintf(stderr, "ctxscope: warning: %s\n", w.c_str());
    try {
      r.model = TraceModel::load(reader->db());
      r.report = analyze(reader->db(), Options{});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ctxscope: %s: file is truncated or corrupt (%s)\n", file.c_str(), e.what());
      return false;
    }
    r.report.run.trace_path = file;
    if (source_root != "none") {
      std::string root = source_root.empty() ? default_source_root(r.report) : source_root;
      std::error_code ec;
      const auto abs = std::filesystem::weakly_canonical(root, ec);
      relativize_paths(r.report, ec ? root : abs.string());
    }
    return true;
  };
  Run ra, rb;
  if (!load(a, ra) || !load(b, rb)) return kExitUsage;
  const RunDiff d = diff_runs(ra.model, ra.report, rb.model, rb.report);
  if (!write_out("", format == "json" ? diff_to_json(d, a, b) : diff_to_text(d, a, b))) return kExitUsage;
  Severity level{};
  if (fail_on == "never" || !parse_severity(fail_on, level)) return 0;
  for (const Finding& f : d.added)
    if (f.severity >= level) return 1;
  return 0;
}

int main(int argc, char** argv) {
  CLI::App app{"ctxscope: find lost cancels, blind and stuck waits in ctxscope traces.\n"
               "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input error."};
  app.set_version_flag("-V,--version", std::string("ctxscope ") + CTXSCOPE_VERSION);
  app.require_subcommand(1);
  static const char* const kSubcommands[] = {"analyze", "check", "stats", "export", "run", "diff"};
  // CLI11 says "A subcommand is required" for a misspelt one: name it.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const char* c : kSubcommands) known = known || std::strcmp(argv[1], c) == 0;
    if (!known) {
      std::fprintf(stderr,
                   "ctxscope: unknown subcommand '%s' (one of: analyze, check, stats, export, run, diff; see ctxscope --help)\n",
                   argv[1]);
      return kExitUsage;
    }
  }

  ReportOpts analyze_o, check_o, run_o;
  check_o.fail_on = "error";
  run_o.fail_on = "error";
  std::string analyze_file_arg, check_file, stats_file, export_file, stats_format = "text",
                                                                        export_format = "chrome", export_out;
  std::string run_trace;
  std::vector<std::string> run_cmd;

  auto* analyze = app.add_subcommand("analyze", "analyse a trace and print the findings");
  analyze->add_option("FILE", analyze_file_arg, "trace file")->required();
  add_report_options(analyze, analyze_o, false);

  auto* check = app.add_subcommand("check", "the CI gate: exit 1 on findings at or above --fail-on");
  check->add_option("FILE", check_file, "trace file")->required();
  add_report_options(check, check_o, true);

  auto* stats = app.add_subcommand("stats", "counts by kind, cancel reasons, depth, cancel latency percentiles");
  stats->add_option("FILE", stats_file, "trace file")->required();
  stats->add_option("--format", stats_format, "text | json")->check(CLI::IsMember({"text", "json"}));

  auto* exp = app.add_subcommand("export", "export a trace for Perfetto's UI / chrome://tracing");
  exp->add_option("FILE", export_file, "trace file")->required();
  exp->add_option("--format", export_format, "chrome")->check(CLI::IsMember({"chrome"}));
  exp->add_option("-o,--output", export_out, "output file (default stdout)");

  std::string diff_a, diff_b, diff_format = "text", diff_fail_on = "error", diff_root;
  auto* diff = app.add_subcommand("diff", "compare two runs: the findings fixed, new and kept, and the contexts and "
                                          "waits whose counts changed; exit 1 when B has a new finding at --fail-on");
  diff->add_option("A", diff_a, "trace before (e.g. the buggy run)")->required();
  diff->add_option("B", diff_b, "trace after (e.g. with the fix)")->required();
  diff->add_option("--format", diff_format, "text | json")->check(CLI::IsMember({"text", "json"}));
  diff->add_option("--fail-on", diff_fail_on, "error (default) | warning | note | never: a new finding this severe fails")
      ->check(CLI::IsMember({"error", "warning", "note", "never"}));
  diff->add_option("--source-root", diff_root, "paths in the output relative to DIR (default: as analyze; 'none')");

  auto* run = app.add_subcommand("run", "trace a program, then analyse it: ctxscope run [opts] -- prog args...");
  run->add_option("--trace", run_trace, "trace file to write (default: a fresh file in $TMPDIR)");
  std::string program_status = "report";
  bool run_view = false;
  run->add_flag("--view", run_view, "follow the trace in ctxscope-viewer while the program runs");
  run->add_option("--program-status", program_status,
                  "report (default): a program that failed fails the run with its own status (128+N for signal N) "
                  "unless the input was bad (2); ignore: the exit status is the analysis' alone")
      ->check(CLI::IsMember({"report", "ignore"}));
  add_report_options(run, run_o, true);
  run->add_option("command", run_cmd, "program and its arguments (after --)")->required();
  run->prefix_command(false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "ctxscope: %s (see ctxscope --help)\n", e.what());
    return kExitUsage;
  }

  try {
    if (*analyze) return report_file(analyze_file_arg, analyze_o);
    if (*diff) return diff_files(diff_a, diff_b, diff_format, diff_fail_on, diff_root);
    if (*check) return report_file(check_file, check_o);
    if (*stats || *exp) {
      const std::string& file = *stats ? stats_file : export_file;
      if (*exp && output_is_input(export_out, file)) return kExitUsage;
      std::string err;
      auto reader = ctxscope::trace::TraceReader::open(file, &err);
      if (!reader) {
        std::fprintf(stderr, "ctxscope: %s\n", err.c_str());
        return kExitUsage;
      }
      for (const auto& w : reader->warnings()) std::fprintf(stderr, "ctxscope: warning: %s\n", w.c_str());
      if (*stats) {
        auto st = compute_stats(reader->db());
        return write_out("", stats_format == "json" ? stats_to_json(st) : stats_to_text(st)) ? 0 : kExitUsage;
      }
      Output out(export_out);
      if (!out.open()) return kExitUsage;
      export_chrome(reader->db(), out.stream());
      return out.close() ? 0 : kExitUsage;
    }
    if (*run) {
      std::string trace = run_trace, tmpdir;
      if (trace.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/ctxscope-XXXXXX";
        if (!mkdtemp(tmpl.data())) {
          std::fprintf(stderr, "ctxscope: %s: cannot create a temporary directory: %s\n", tmpl.c_str(),
                       std::strerror(errno));
          return kExitUsage;
        }
        tmpdir = tmpl;
        trace = tmpl + "/trace.db";
      }
      if (output_is_input(run_o.output, trace)) return kExitUsage;
      const std::string token = make_run_token();
      int status = 0;
      std::string err;
      if (run_view) start_viewer(trace);
      if (!run_traced(run_cmd, trace, token, &status, &err)) {
        std::fprintf(stderr, "ctxscope: %s\n", err.c_str());
        if (!tmpdir.empty()) rmdir(tmpdir.c_str());
        return kExitUsage;
      }
      if (WIFSIGNALED(status))
        std::fprintf(stderr, "ctxscope: %s was killed by signal %d (%s)\n", run_cmd[0].c_str(), WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
      else if (WEXITSTATUS(status) != 0)
        std::fprintf(stderr, "ctxscope: %s exited with status %d\n", run_cmd[0].c_str(), WEXITSTATUS(status));
      struct stat sb{};
      if (stat(trace.c_str(), &sb) != 0) {
        std::fprintf(stderr,
                     "ctxscope: %s: no trace was written (is %s linked with ctxscope::runtime?)\n",
                     trace.c_str(), run_cmd[0].c_str());
        if (!tmpdir.empty()) rmdir(tmpdir.c_str());  // empty: nothing was written into it
        return kExitUsage;
      }
      {
        // The file must be this program's: another process may hold it (the
        // child's recorder was then refused) or it may be left from before.
        auto reader = ctxscope::trace::TraceReader::open(trace, &err, /*quick_check=*/false);
        if (!reader) {
          std::fprintf(stderr, "ctxscope: %s\n", err.c_str());
          return kExitUsage;
        }
        const auto ri = reader->run();
        if (ri.run_token != token) {
          std::fprintf(stderr,
                       "ctxscope: %s: not written by %s (the trace belongs to pid %lld, %s; did another process hold "
                       "the file, or is %s not linked with ctxscope::runtime?)\n",
                       trace.c_str(), run_cmd[0].c_str(), static_cast<long long>(ri.pid),
                       ri.executable.empty() ? "unknown program" : ri.executable.c_str(), run_cmd[0].c_str());
          return kExitUsage;
        }
      }
      std::fprintf(stderr, "ctxscope: trace written to %s\n", trace.c_str());
      const int rc = report_file(trace, run_o);
      // Precedence (docs/cli.md): bad input 2; then the program's own failure
      // (its status, or 128+signal), so that a failing test binary never
      // passes the gate; then findings 1.
      if (rc == kExitUsage || program_status == "ignore") return rc;
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      if (WEXITSTATUS(status) != 0) return WEXITSTATUS(status);
      return rc;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ctxscope: %s\n", e.what());
    return kExitUsage;
  }
  return kExitUsage;
}
