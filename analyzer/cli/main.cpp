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
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "ctxscope/analysis/analyzer.hpp"
#include "ctxscope/analysis/stats.hpp"
#include "ctxscope/analysis/suppressions.hpp"
#include "ctxscope/trace_reader.hpp"
#include "ctxscope/version.hpp"

extern char** environ;

namespace {

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

bool write_out(const std::string& path, const std::string& text) {
  if (path.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) {
    std::fprintf(stderr, "ctxscope: %s: cannot write: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  return true;
}

// Analyse `file` and print the report; returns the exit code.
int report_file(const std::string& file, const ReportOpts& o) {
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
  sup.apply(rep);
  // Run warnings go to stderr too, so a JSON/SARIF consumer on stdout still
  // lets a human see that the run ended abnormally.
  for (const auto& w : rep.warnings) std::fprintf(stderr, "ctxscope: %s: warning: %s\n", file.c_str(), w.c_str());
  if (!write_out(o.output, render(rep, fmt))) return kExitUsage;
  if (o.fail_on == "never") return kExitClean;
  Severity level = Severity::error;
  parse_severity(o.fail_on, level);
  return rep.count_at_least(level) > 0 ? kExitFindings : kExitClean;
}

// Fork/exec `argv` with CTXSCOPE_TRACE=trace; returns false with a message if
// the program could not be started.  The child's status goes to *status.
bool run_traced(const std::vector<std::string>& argv, const std::string& trace, int* status, std::string* err) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    *err = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  // Ctrl-C reaches the child (same process group); the tool survives it to
  // analyse the (then incomplete) trace.
  struct sigaction ign{}, old_int{}, old_quit{};
  ign.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ign, &old_int);
  sigaction(SIGQUIT, &ign, &old_quit);
  const pid_t pid = fork();
  if (pid < 0) {
    *err = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGQUIT, &old_quit, nullptr);
    setenv("CTXSCOPE_TRACE", trace.c_str(), 1);
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
  const bool exec_failed = read(pipefd[0], &child_errno, sizeof child_errno) == sizeof child_errno;
  close(pipefd[0]);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  if (exec_failed) {
    *err = argv[0] + ": cannot run: " + std::strerror(child_errno);
    return false;
  }
  *status = st;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ctxscope: find lost cancels, blind and stuck waits in ctxscope traces.\n"
               "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input error."};
  app.set_version_flag("--version", std::string("ctxscope ") + CTXSCOPE_VERSION);
  app.require_subcommand(1);

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

  auto* run = app.add_subcommand("run", "trace a program, then analyse it: ctxscope run [opts] -- prog args...");
  run->add_option("--trace", run_trace, "trace file to write (default: a fresh file in $TMPDIR)");
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
    if (*check) return report_file(check_file, check_o);
    if (*stats || *exp) {
      const std::string& file = *stats ? stats_file : export_file;
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
      if (export_out.empty()) {
        export_chrome(reader->db(), std::cout);
        std::cout.flush();
        return std::cout ? 0 : kExitUsage;
      }
      std::ofstream f(export_out, std::ios::binary | std::ios::trunc);
      export_chrome(reader->db(), f);
      f.close();
      if (!f) {
        std::fprintf(stderr, "ctxscope: %s: cannot write\n", export_out.c_str());
        return kExitUsage;
      }
      return 0;
    }
    if (*run) {
      std::string trace = run_trace;
      if (trace.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/ctxscope-XXXXXX";
        if (!mkdtemp(tmpl.data())) {
          std::fprintf(stderr, "ctxscope: %s: cannot create a temporary directory: %s\n", tmpl.c_str(),
                       std::strerror(errno));
          return kExitUsage;
        }
        trace = tmpl + "/trace.db";
      }
      int status = 0;
      std::string err;
      if (!run_traced(run_cmd, trace, &status, &err)) {
        std::fprintf(stderr, "ctxscope: %s\n", err.c_str());
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
        return kExitUsage;
      }
      std::fprintf(stderr, "ctxscope: trace written to %s\n", trace.c_str());
      return report_file(trace, run_o);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ctxscope: %s\n", e.what());
    return kExitUsage;
  }
  return kExitUsage;
}
