// CLI under faults (issue 18): outputs that are the input, write errors, full
// disks, a trace held by another process, signals to `ctxscope run`, bad
// grace values.  Processes are ordered with pipes and waitpid, never sleeps.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "ctxscope/analysis/stats.hpp"
#include "ctxscope/trace_reader.hpp"
#include "test_util.hpp"

namespace ctxscope::testing {
namespace {

namespace fs = std::filesystem;

std::string child_exe() { return CTXSCOPE_FAULT_CHILD; }
std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// Records a complete trace of `n` cancelled contexts (no findings).
fs::path quick_trace(const fs::path& dir, int n = 20) {
  const fs::path t = dir / "t.db";
  const auto r = run_cmd("CTXSCOPE_TRACE=" + q(t) + " " + q(child_exe()) + " quick " + std::to_string(n), dir);
  EXPECT_EQ(r.code, 0) << r.err;
  return t;
}

std::string sql_text(const fs::path& db, const std::string& sql) {
  sqlite3* d = nullptr;
  std::string out;
  if (sqlite3_open_v2(db.c_str(), &d, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(d, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_text(s, 0))
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
  }
  sqlite3_close(d);
  return out;
}

// Starts argv (execvp) with `env` added, stdout/stderr to files in dir and
// the write end of a pipe inherited as CTXSCOPE_FAULT_FD; returns the pid and
// the read end.
struct Spawned {
  pid_t pid = -1;
  int ready_fd = -1;
};
Spawned spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const fs::path& dir) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = ::open((dir / "spawn.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open((dir / "spawn.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    setenv("CTXSCOPE_FAULT_FD", std::to_string(fds[1]).c_str(), 1);
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

// The pid the fault child writes once its events are committed.
pid_t wait_ready(int fd) {
  pollfd pf{fd, POLLIN, 0};
  EXPECT_EQ(poll(&pf, 1, 30000), 1) << "the traced program did not report";
  char buf[32] = {};
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  EXPECT_GT(n, 0);
  return static_cast<pid_t>(std::atol(buf));
}

// --- item 3: -o equal to the input -------------------------------------------

TEST(CliFault, OutputThatIsTheInputIsRefused) {
  const auto dir = test_dir();
  const auto t = quick_trace(dir);
  const std::string before = read_file(t);
  ASSERT_FALSE(before.empty());
  fs::create_hard_link(t, dir / "alias.db");  // same inode, another name
  for (const std::string& cmd :
       {cli() + " analyze " + q(t) + " -o " + q(t), cli() + " export " + q(t) + " -o " + q(t),
        cli() + " check " + q(t) + " -o " + q(dir / "alias.db"), cli() + " export " + q(t) + " -o " + q(dir / "alias.db")}) {
    const auto r = run_cmd(cmd, dir);
    EXPECT_EQ(r.code, 2) << cmd;
    EXPECT_NE(r.err.find("refusing to write the output over the trace it reads"), std::string::npos) << r.err;
    EXPECT_EQ(read_file(t), before) << cmd;
  }
}

// --- item 4: write errors ---------------------------------------------------

TEST(CliFault, WriteErrorsExit2WithOneLine) {
  const auto dir = test_dir();
  const auto t = quick_trace(dir);
  const std::string before = read_file(t);
  struct Case {
    std::string cmd, says;
  };
  const Case cases[] = {
      {cli() + " analyze " + q(t) + " >/dev/full", "<stdout>: cannot write: No space left on device"},
      {cli() + " stats " + q(t) + " >/dev/full", "<stdout>: cannot write: No space left on device"},
      {cli() + " export " + q(t) + " >/dev/full", "<stdout>: cannot write: No space left on device"},
      {cli() + " analyze " + q(t) + " -o /dev/full", "/dev/full: cannot write: No space left on device"},
      {cli() + " export " + q(t) + " -o /dev/full", "/dev/full: cannot write: No space left on device"},
      {cli() + " analyze " + q(t) + " >&-", "<stdout>: cannot write: Bad file descriptor"},
      {cli() + " stats " + q(t) + " >&-", "<stdout>: cannot write: Bad file descriptor"},
      {cli() + " export " + q(t) + " >&-", "<stdout>: cannot write: Bad file descriptor"},
  };
  for (const auto& c : cases) {
    // run_cmd appends its own redirections; the case's come last and win.
    const auto err = dir / "e.txt";
    const int st = std::system(("( " + c.cmd + " ) 2>" + q(err)).c_str());
    ASSERT_TRUE(WIFEXITED(st)) << c.cmd;
    EXPECT_EQ(WEXITSTATUS(st), 2) << c.cmd;
    const std::string said = read_file(err);
    EXPECT_NE(said.find(c.says), std::string::npos) << c.cmd << "\n" << said;
    EXPECT_EQ(std::count(said.begin(), said.end(), '\n'), 1) << said;
    EXPECT_EQ(read_file(t), before) << c.cmd;
  }
}

// --- item 12: grace values -----------------------------------------------------

TEST(CliFault, GraceValuesOutOfRangeAreRefused) {
  const auto dir = test_dir();
  const auto t = quick_trace(dir);
  for (const std::string v : {"1e13", "nan", "inf", "-1", "9.3e12"}) {
    for (const std::string flag : {"--blind-wait-grace-ms", "--late-exit-grace-ms"}) {
      const auto r = run_cmd(cli() + " check " + q(t) + " " + flag + " " + v, dir);
      EXPECT_EQ(r.code, 2) << flag << " " << v;
      EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
    }
  }
  EXPECT_EQ(run_cmd(cli() + " check " + q(t) + " --blind-wait-grace-ms 9e12", dir).code, 0);
}

// --- item 5: a full disk --------------------------------------------------------

TEST(CliFault, FullDiskRunFailsTheGate) {
  const auto dir = test_dir();
  const auto t = dir / "full.db";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A 1 MiB "disk" for this process's files (the trace's main file and
    // WAL: room for the schema's first commit, not for the events); EFBIG
    // instead of SIGXFSZ, as a full disk gives ENOSPC.
    rlimit rl{1024 * 1024, 1024 * 1024};
    setrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGXFSZ, SIG_IGN);
    const int err = ::open((dir / "child.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(err, 2);
    setenv("CTXSCOPE_TRACE", t.c_str(), 1);
    execl(child_exe().c_str(), "fault_child", "fill", "200000", nullptr);
    _exit(127);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << "the program runs on when its trace cannot be written";
  EXPECT_NE(read_file(dir / "child.err").find("trace write failed"), std::string::npos) << read_file(dir / "child.err");
  // Recorded durably in the file itself.
  EXPECT_EQ(sql_text(t, "SELECT end_state FROM run"), "failed");
  EXPECT_FALSE(sql_text(t, "SELECT failure FROM run").empty());
  EXPECT_EQ(sql_text(t, "PRAGMA quick_check"), "ok");
  EXPECT_EQ(sql_text(t, "SELECT sum(n) FROM event_blocks"), sql_text(t, "SELECT events_recorded FROM run"));
  const auto r = run_cmd(cli() + " check " + q(t), dir);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("recording failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("incomplete run: findings may be missing"), std::string::npos) << r.err;
  EXPECT_EQ(run_cmd(cli() + " check --allow-incomplete " + q(t), dir).code, 0);
  EXPECT_EQ(run_cmd(cli() + " analyze " + q(t), dir).code, 0) << "analyze reports, it does not gate";
}

TEST(CliFault, KilledRunFailsTheGateUnlessAllowed) {
  const auto dir = test_dir();
  const auto t = dir / "killed.db";
  auto sp = spawn({child_exe(), "wait", "20"}, {"CTXSCOPE_TRACE=" + t.string()}, dir);
  wait_ready(sp.ready_fd);
  kill(sp.pid, SIGKILL);
  waitpid(sp.pid, nullptr, 0);
  close(sp.ready_fd);
  EXPECT_EQ(run_cmd(cli() + " check " + q(t), dir).code, 2);
  EXPECT_EQ(run_cmd(cli() + " check --allow-incomplete " + q(t), dir).code, 0);
  const auto t2 = quick_trace(dir);
  EXPECT_EQ(run_cmd(cli() + " check " + q(t2), dir).code, 0) << "a complete clean run passes";
}

// --- item 6: `run --trace F` when another process holds F -----------------------

TEST(CliFault, RunRefusesATraceItsProgramDidNotWrite) {
  const auto dir = test_dir();
  const auto t = dir / "shared.db";
  auto holder = spawn({child_exe(), "wait", "5"}, {"CTXSCOPE_TRACE=" + t.string()}, dir);
  const pid_t holder_pid = wait_ready(holder.ready_fd);
  const auto r = run_cmd(cli() + " run --trace " + q(t) + " -- " + q(child_exe()) + " quick 10", dir);
  kill(holder.pid, SIGKILL);
  waitpid(holder.pid, nullptr, 0);
  close(holder.ready_fd);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("another process is recording into it"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not written by"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pid " + std::to_string(holder_pid)), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "") << "no report of another process's trace";

  // A stale file from an earlier run is not this run's either.
  const auto stale = quick_trace(dir);
  const auto r2 = run_cmd(cli() + " run --trace " + q(stale) + " -- /bin/true", dir);
  EXPECT_EQ(r2.code, 2);
  EXPECT_NE(r2.err.find("not written by"), std::string::npos) << r2.err;
  // Its own trace is accepted.
  const auto r3 = run_cmd(cli() + " run --trace " + q(stale) + " -- " + q(child_exe()) + " quick 10", dir);
  EXPECT_EQ(r3.code, 0) << r3.err;
}

// --- item 7: signals to `ctxscope run` -----------------------------------------

TEST(CliFault, SigtermToRunReachesTheProgramAndStillReports) {
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    const auto dir = test_dir();
    const auto t = dir / "sig.db";
    auto sp = spawn({cli(), "run", "--no-progress", "--trace", t.string(), "--", child_exe(), "wait", "30"}, {}, dir);
    const pid_t prog = wait_ready(sp.ready_fd);
    ASSERT_GT(prog, 0);
    ASSERT_NE(prog, sp.pid);
    ASSERT_EQ(kill(sp.pid, sig), 0);
    int st = 0;
    ASSERT_EQ(waitpid(sp.pid, &st, 0), sp.pid);
    close(sp.ready_fd);
    ASSERT_TRUE(WIFEXITED(st)) << "ctxscope run itself must survive to report (signal " << sig << ")";
    EXPECT_EQ(WEXITSTATUS(st), 2) << "incomplete run";
    // The program is gone (reaped by run), not orphaned.
    EXPECT_EQ(kill(prog, 0), -1);
    EXPECT_EQ(errno, ESRCH);
    const std::string err = read_file(dir / "spawn.err"), out = read_file(dir / "spawn.out");
    EXPECT_NE(err.find("was killed by signal " + std::to_string(sig)), std::string::npos) << err;
    EXPECT_NE(out.find("0 errors"), std::string::npos) << "the report of what was committed:\n" << out << err;
  }
}

// --- item 11: stats of a trace being written -----------------------------------

struct Injector {
  sqlite3* writer = nullptr;
  long calls = 0, fire_at = -1;
  std::int64_t next_id = std::int64_t{1} << 40;  // above any id the runtime gave
};

// Progress handler of the reader: at its fire_at-th call, another connection
// commits 50 more cancelled contexts (a recorder committing mid-query).
int inject(void* p) {
  auto* in = static_cast<Injector*>(p);
  if (++in->calls != in->fire_at) return 0;
  std::string sql = "BEGIN;";
  for (int i = 0; i < 50; ++i)
    sql += "INSERT INTO contexts(id, parent, kind, cancel_reason) VALUES(" + std::to_string(in->next_id++) +
           ", 1, 2, 1);";
  sql += "COMMIT;";
  char* msg = nullptr;
  if (sqlite3_exec(in->writer, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    ADD_FAILURE() << "writer: " << (msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_exec(in->writer, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return 0;
}

TEST(StatsFault, StatsOfALiveTraceAreOneSnapshot) {
  const auto dir = test_dir();
  const auto t = quick_trace(dir, 50);
  Injector in;
  ASSERT_EQ(sqlite3_open(t.c_str(), &in.writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(in.writer, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr), SQLITE_OK);
  std::string err;
  auto r = trace::TraceReader::open(t.string(), &err);
  ASSERT_TRUE(r.has_value()) << err;
  // How many progress calls one pass makes; then a commit at each point of it.
  sqlite3_progress_handler(r->db(), 20, inject, &in);
  (void)analysis::compute_stats(r->db());
  const long total = in.calls;
  ASSERT_GT(total, 5);
  for (long k = 1; k <= total; ++k) {
    in.calls = 0;
    in.fire_at = k;
    const auto st = analysis::compute_stats(r->db());
    std::uint64_t reasons = 0, depths = 0;
    for (auto& [name, n] : st.cancel_reasons) reasons += n;
    for (auto& [d, n] : st.depth_histogram) depths += n;
    EXPECT_EQ(reasons, st.contexts) << "commit at progress call " << k << " of " << total;
    EXPECT_EQ(depths, st.contexts) << "commit at progress call " << k << " of " << total;
  }
  sqlite3_progress_handler(r->db(), 0, nullptr, nullptr);
  // The snapshot is released: the next pass sees every commit.
  const auto st = analysis::compute_stats(r->db());
  EXPECT_EQ(st.contexts_by_kind.at("cancel"), 50u + 50u * static_cast<std::uint64_t>(total));
  sqlite3_close(in.writer);
}

// --- item 13: the smaller ones ----------------------------------------------------

TEST(CliFault, SuppressDirectoryIsAnError) {
  const auto dir = test_dir();
  const auto t = quick_trace(dir);
  const auto r = run_cmd(cli() + " check " + q(t) + " --suppress " + q(dir), dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
}

TEST(CliFault, RunWithoutTraceLeavesNoTempDir) {
  const auto dir = test_dir();
  const auto tmp = dir / "tmp";
  fs::create_directories(tmp);
  const auto r = run_cmd("TMPDIR=" + q(tmp) + " " + cli() + " run -- /bin/true", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("no trace was written"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(tmp)) << "the empty temp dir is removed";
}

}  // namespace
}  // namespace ctxscope::testing

// --- issue 17 items 5 and 6: the program's own status, precise CLI errors ---

namespace ctxscope::testing {
namespace {

TEST(CliStatus, AFailingProgramFailsTheRunEvenWithoutFindings) {
  const auto dir = test_dir();
  const auto t = dir / "fail.db";
  auto r = run_cmd(cli() + " run --trace " + q(t) + " -- " + q(child_exe()) + " fail 10", dir);
  EXPECT_EQ(r.code, 3) << r.err;  // its own status: a failing test binary never passes the gate
  EXPECT_NE(r.err.find("exited with status 3"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("0 findings"), std::string::npos) << r.out;
  r = run_cmd(cli() + " run --program-status=ignore --trace " + q(t) + " -- " + q(child_exe()) + " fail 10", dir);
  EXPECT_EQ(r.code, 0) << r.err;
  // A signal: 128 + its number.
  r = run_cmd(cli() + " run --allow-incomplete --trace " + q(t) + " -- " + q(child_exe()) + " abort 10", dir);
  EXPECT_EQ(r.code, 128 + SIGABRT) << r.err;
  EXPECT_NE(r.err.find("killed by signal"), std::string::npos) << r.err;
  // Bad input still wins: an incomplete run without --allow-incomplete is 2.
  r = run_cmd(cli() + " run --trace " + q(t) + " -- " + q(child_exe()) + " abort 10", dir);
  EXPECT_EQ(r.code, 2) << r.err;
}

TEST(CliStatus, VersionUnknownSubcommandAndUnknownFlagAreNamed) {
  const auto dir = test_dir();
  auto r = run_cmd(cli() + " -V", dir);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("ctxscope ", 0), 0u) << r.out;
  r = run_cmd(cli() + " --version", dir);
  EXPECT_EQ(r.code, 0);
  r = run_cmd(cli() + " bogus", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown subcommand 'bogus'"), std::string::npos) << r.err;
  r = run_cmd(cli() + " analyze --bogus x.db", dir);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ctxscope::testing
