// Fault injection (issue 18): what the recorder and the reader do to files that
// are not theirs, to WAL-only traces, under a full disk and when killed.
// Processes are ordered with pipes and waitpid, never with sleeps.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"
#include "ctxscope/trace_schema.hpp"
#include "recorder/recorder_test_util.hpp"

namespace ctxscope {
namespace {

namespace fs = std::filesystem;
using rectest::q_int;
using rectest::q_text;

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const std::string& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

bool exists(const std::string& p) {
  struct stat sb;
  return ::lstat(p.c_str(), &sb) == 0;
}

// A SQLite database of another application, with a -wal and -shm beside it
// (kept open in WAL mode by the returned connection, so its WAL is live).
sqlite3* foreign_db(const std::string& p, int app_id) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  const std::string sql = "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; PRAGMA application_id=" +
                          std::to_string(app_id) + "; CREATE TABLE precious(x); INSERT INTO precious VALUES('mine');";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  return db;
}

// --- item 1: never overwrite what is not a ctxscope trace --------------------

TEST(FaultOverwrite, TextFileIsRefusedAndKept) {
  const std::string p = rectest::temp_trace("notes");
  spit(p, "precious\n");
  spit(p + "-wal", "keep wal\n");
  spit(p + "-shm", "keep shm\n");
  std::string err;
  EXPECT_FALSE(trace::start(p, {}, &err));
  EXPECT_FALSE(trace::active());
  EXPECT_NE(err.find(p + ": refusing to overwrite: it is not a ctxscope trace"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << "one line: " << err;
  EXPECT_EQ(slurp(p), "precious\n");
  EXPECT_EQ(slurp(p + "-wal"), "keep wal\n");
  EXPECT_EQ(slurp(p + "-shm"), "keep shm\n");
}

TEST(FaultOverwrite, ForeignSqliteDatabaseIsRefusedWithItsWal) {
  for (int app : {0x1234, 0}) {  // another application's id, and none at all
    const std::string p = rectest::temp_trace("foreign");
    sqlite3* db = foreign_db(p, app);
    const std::string main_before = slurp(p), wal_before = slurp(p + "-wal");
    ASSERT_FALSE(wal_before.empty());
    std::string err;
    EXPECT_FALSE(trace::start(p, {}, &err));
    EXPECT_NE(err.find("refusing to overwrite"), std::string::npos) << err;
    EXPECT_NE(err.find("not a ctxscope trace") == std::string::npos ? err.find("another application") : 0,
              std::string::npos)
        << err;
    EXPECT_EQ(slurp(p), main_before);
    EXPECT_EQ(slurp(p + "-wal"), wal_before);
    EXPECT_TRUE(exists(p + "-shm"));
    EXPECT_EQ(q_text(db, "SELECT x FROM precious"), "mine");
    sqlite3_close(db);
  }
}

TEST(FaultOverwrite, EmptyMainWithForeignWalIsRefused) {
  const std::string p = rectest::temp_trace("foreign-wal");
  sqlite3* db = foreign_db(p, 0x1234);
  sqlite3_close(db);  // checkpoints; make a WAL-only foreign pair by hand
  spit(p, "");
  spit(p + "-wal", "not a wal at all, but somebody's data");
  std::string err;
  EXPECT_FALSE(trace::start(p, {}, &err));
  EXPECT_NE(err.find("-wal beside it holds"), std::string::npos) << err;
  EXPECT_EQ(slurp(p + "-wal"), "not a wal at all, but somebody's data");
}

TEST(FaultOverwrite, SymlinkIsNeverFollowed) {
  const std::string target = rectest::temp_trace("link-target");
  const std::string p = rectest::temp_trace("link");
  spit(target, "precious\n");
  ASSERT_EQ(symlink(target.c_str(), p.c_str()), 0);
  std::string err;
  EXPECT_FALSE(trace::start(p, {}, &err));
  EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
  EXPECT_EQ(slurp(target), "precious\n");
  // Not even to a ctxscope trace: the link is the user's, its target may be shared.
  ASSERT_TRUE(trace::start(target + ".db", {}, &err)) << err;
  trace::stop();
  ::unlink(p.c_str());
  ASSERT_EQ(symlink((target + ".db").c_str(), p.c_str()), 0);
  const std::string trace_before = slurp(target + ".db");
  EXPECT_FALSE(trace::start(p, {}, &err));
  EXPECT_EQ(slurp(target + ".db"), trace_before);
}

TEST(FaultOverwrite, FifoAndDeviceSayWhatTheyAre) {
  const std::string p = rectest::temp_trace("fifo");
  ASSERT_EQ(mkfifo(p.c_str(), 0600), 0);
  std::string err;
  EXPECT_FALSE(trace::start(p, {}, &err));  // and does not block
  EXPECT_NE(err.find("FIFO"), std::string::npos) << err;
  EXPECT_FALSE(trace::start("/dev/null", {}, &err));
  EXPECT_NE(err.find("character device"), std::string::npos) << err;
  // The reader says it too (and does not block on the FIFO).
  EXPECT_FALSE(trace::TraceReader::open(p, &err).has_value());
  EXPECT_NE(err.find(p + ": a FIFO (named pipe)"), std::string::npos) << err;
}

TEST(FaultOverwrite, EmptyFileAndOldTraceAreReplaced) {
  const std::string p = rectest::temp_trace("replace");
  spit(p, "");
  std::string err;
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  trace::stop();
  ASSERT_TRUE(trace::start(p, {}, &err)) << "a ctxscope trace is replaced: " << err;
  trace::stop();
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->run().complete());
}

TEST(FaultOverwrite, EnvironmentAutostartRunsUntraced) {
  const std::string p = rectest::temp_trace("env-notes");
  spit(p, "precious\n");
  setenv("CTXSCOPE_TRACE", p.c_str(), 1);
  testing::internal::CaptureStderr();
  const bool started = trace::detail::start_from_environment();
  const std::string said = testing::internal::GetCapturedStderr();
  unsetenv("CTXSCOPE_TRACE");
  EXPECT_FALSE(started);
  EXPECT_FALSE(trace::active());
  EXPECT_EQ(slurp(p), "precious\n");
  EXPECT_NE(said.find("refusing to overwrite"), std::string::npos) << said;
  EXPECT_EQ(std::count(said.begin(), said.end(), '\n'), 1) << said;
}

// --- item 2: the reader never changes a file ----------------------------------

// Child process body for the tests that need a trace of a killed process: it
// was started with CTXSCOPE_TRACE (autostart), records CTXSCOPE_FAULT_N
// cancel pairs, flushes, reports on the pipe, and waits to be killed.
TEST(FaultChild, RecordsThenWaitsForKill) {
  const char* fd_env = std::getenv("CTXSCOPE_FAULT_FD");
  if (!fd_env) GTEST_SKIP() << "helper of the fault tests";
  const int fd = std::atoi(fd_env);
  const int n = std::atoi(std::getenv("CTXSCOPE_FAULT_N"));
  ASSERT_TRUE(trace::active());
  for (int i = 0; i < n; ++i) {
    auto [ctx, cancel] = with_cancel(background());
    cancel();
  }
  trace::flush();
  ASSERT_EQ(write(fd, "x", 1), 1);
  for (;;) pause();
}

// Runs this test binary as a fault child: only the test `filter`, recording
// into `trace`, with CTXSCOPE_FAULT_FD (the write end of a pipe it reports
// progress on) and `env` set.  Returns its pid; *report_fd is the read end.
pid_t spawn_fault_child(const std::string& trace, const char* filter,
                        const std::vector<std::pair<std::string, std::string>>& env, int* report_fd) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const std::string filter_arg = std::string("--gtest_filter=") + filter;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    setenv("CTXSCOPE_TRACE", trace.c_str(), 1);
    setenv("CTXSCOPE_FAULT_FD", std::to_string(fds[1]).c_str(), 1);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execl("/proc/self/exe", "ctxscope_tests", filter_arg.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  *report_fd = fds[0];
  return pid;
}

// Starts the helper above recording `n` cancel pairs into `p`, kills it once
// they are committed; returns its pid.
pid_t record_then_kill(const std::string& p, int n) {
  int fds[1];
  const pid_t pid = spawn_fault_child(p, "FaultChild.RecordsThenWaitsForKill", {{"CTXSCOPE_FAULT_N", std::to_string(n)}},
                                      &fds[0]);
  pollfd pf{fds[0], POLLIN, 0};
  EXPECT_EQ(poll(&pf, 1, 30000), 1) << "child did not report";
  char c = 0;
  EXPECT_EQ(read(fds[0], &c, 1), 1);
  close(fds[0]);
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFSIGNALED(st));
  return pid;
}

TEST(FaultReader, WalOnlyTraceIsRecoveredWithoutTouchingTheFiles) {
  const std::string p = rectest::temp_trace("wal-only");
  record_then_kill(p, 100);
  // The case of a trace whose first checkpoint never happened: an empty main
  // file, everything in the WAL.
  ASSERT_EQ(truncate(p.c_str(), 0), 0);
  ::unlink((p + "-shm").c_str());
  const std::string wal_before = slurp(p + "-wal");
  ASSERT_GT(wal_before.size(), 0u);
  const fs::path tmp = fs::path(p + ".tmpdir");
  fs::create_directories(tmp);
  setenv("TMPDIR", tmp.c_str(), 1);
  {
    std::string err;
    auto r = trace::TraceReader::open(p, &err);
    ASSERT_TRUE(r.has_value()) << err;
    EXPECT_TRUE(r->recovered_from_wal());
    EXPECT_EQ(q_text(r->db(), "PRAGMA quick_check"), "ok");
    // 100 creates + 100 cancels (+ release events): at least 200, all present.
    EXPECT_GE(*q_int(r->db(), "SELECT count(*) FROM events"), 200);
    EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events"), r->run().events_recorded);
    bool said = false;
    for (auto& w : r->warnings()) said |= w.find("private copy") != std::string::npos;
    EXPECT_TRUE(said);
  }
  unsetenv("TMPDIR");
  EXPECT_EQ(fs::file_size(p), 0u);
  EXPECT_EQ(slurp(p + "-wal"), wal_before);
  EXPECT_FALSE(exists(p + "-shm"));
  EXPECT_TRUE(fs::is_empty(tmp)) << "the private copy is removed with the reader";
}

TEST(FaultReader, EmptyMainWithForeignWalSaysWhatItIs) {
  const std::string p = rectest::temp_trace("wal-foreign");
  spit(p, "");
  spit(p + "-wal", "garbage that is not a WAL");
  std::string err;
  EXPECT_FALSE(trace::TraceReader::open(p, &err).has_value());
  EXPECT_NE(err.find("the main file is empty and " + p + "-wal beside it is not a SQLite WAL"), std::string::npos)
      << err;
  EXPECT_EQ(slurp(p + "-wal"), "garbage that is not a WAL");
}

TEST(FaultReader, KilledTraceHasItsHeaderInTheMainFile) {
  // A process killed before any checkpoint still leaves a main file that says
  // it is a ctxscope trace (application_id written before WAL mode).
  const std::string p = rectest::temp_trace("killed-early");
  record_then_kill(p, 1);
  const std::string main = slurp(p);
  ASSERT_GE(main.size(), 100u);
  const auto* h = reinterpret_cast<const unsigned char*>(main.data());
  const std::uint32_t app = (std::uint32_t{h[68]} << 24) | (std::uint32_t{h[69]} << 16) | (std::uint32_t{h[70]} << 8) | h[71];
  EXPECT_EQ(app, static_cast<std::uint32_t>(trace::schema::kApplicationId));
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->recovered_from_wal());
}


TEST(FaultReader, TraceKilledBeforeItsFirstCommitSaysSo) {
  // What a recorder killed between its header and its first commit leaves.
  const std::string p = rectest::temp_trace("first-ms");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &db), SQLITE_OK);
  const std::string sql = "PRAGMA page_size=16384; PRAGMA application_id=" + std::to_string(trace::schema::kApplicationId) +
                          "; PRAGMA user_version=" + std::to_string(trace::schema::kVersion) + ";";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  std::string err;
  EXPECT_FALSE(trace::TraceReader::open(p, &err).has_value());
  EXPECT_NE(err.find("killed (or is still starting) before its first commit"), std::string::npos) << err;
}

// --- item 8: SIGKILL at chosen points; the end marker covers exactly the saved events

// Child body: emits batches of CTXSCOPE_FAULT_BATCH raw events (chan_close,
// id = sequence number), stores how many it emitted in the shared counter file
// CTXSCOPE_FAULT_COUNTER, flushes after each batch when CTXSCOPE_FAULT_FLUSH=1
// (so each report on the pipe means "committed"), and reports each batch.
TEST(FaultChild, EmitsBatchesUntilKilled) {
  const char* fd_env = std::getenv("CTXSCOPE_FAULT_FD");
  if (!fd_env || !std::getenv("CTXSCOPE_FAULT_COUNTER")) GTEST_SKIP() << "helper of the fault tests";
  const int fd = std::atoi(fd_env);
  const long batch = std::atol(std::getenv("CTXSCOPE_FAULT_BATCH"));
  const bool flush = std::atoi(std::getenv("CTXSCOPE_FAULT_FLUSH")) != 0;
  const int cfd = ::open(std::getenv("CTXSCOPE_FAULT_COUNTER"), O_RDWR);
  ASSERT_GE(cfd, 0);
  void* m = mmap(nullptr, sizeof(std::uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
  ASSERT_NE(m, MAP_FAILED);
  auto* emitted = static_cast<std::atomic<std::uint64_t>*>(m);
  ASSERT_TRUE(trace::active());
  for (std::uint64_t seq = 0;;) {
    for (long i = 0; i < batch; ++i, ++seq) {
      Event e{};
      e.type = EventType::chan_close;
      e.id = seq + 1;
      rectest::emit(e);
      // After the event is in the ring: a count never exceeds what was emitted.
      emitted->store(seq + 1, std::memory_order_release);
    }
    if (flush) trace::flush();
    if (write(fd, "b", 1) != 1) _exit(3);
  }
}

struct KillResult {
  std::uint64_t emitted = 0, saved = 0;
  bool ok = false;
};

// Runs the child above, SIGKILLs it after `reports` batch reports, checks the
// trace, and returns what was emitted and what was saved.
KillResult kill_after_batches(const std::string& p, long batch, bool flush, int reports) {
  KillResult kr;
  const std::string counter = p + ".counter";
  {
    const int cfd = ::open(counter.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    EXPECT_GE(cfd, 0);
    EXPECT_EQ(ftruncate(cfd, sizeof(std::uint64_t)), 0);
    ::close(cfd);
  }
  int fds[1];
  const pid_t pid = spawn_fault_child(p, "FaultChild.EmitsBatchesUntilKilled",
                                      {{"CTXSCOPE_FAULT_COUNTER", counter},
                                       {"CTXSCOPE_FAULT_BATCH", std::to_string(batch)},
                                       {"CTXSCOPE_FAULT_FLUSH", flush ? "1" : "0"}},
                                      &fds[0]);
  for (int got = 0; got < reports;) {
    pollfd pf{fds[0], POLLIN, 0};
    if (poll(&pf, 1, 30000) != 1) {
      ADD_FAILURE() << "child stopped reporting after " << got << " batches";
      break;
    }
    char buf[64];
    const ssize_t n = read(fds[0], buf, std::min<std::size_t>(sizeof buf, static_cast<std::size_t>(reports - got)));
    if (n <= 0) {
      ADD_FAILURE() << "child died after " << got << " batches";
      break;
    }
    got += static_cast<int>(n);
  }
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(st));
  {
    const int cfd = ::open(counter.c_str(), O_RDONLY);
    EXPECT_EQ(pread(cfd, &kr.emitted, sizeof kr.emitted, 0), static_cast<ssize_t>(sizeof kr.emitted));
    ::close(cfd);
    ::unlink(counter.c_str());
  }
  std::string err;
  auto r = trace::TraceReader::open(p, &err);  // runs quick_check
  EXPECT_TRUE(r.has_value()) << err;
  if (!r) return kr;
  sqlite3* db = r->db();
  EXPECT_EQ(q_text(db, "PRAGMA integrity_check"), "ok");
  const auto ri = r->run();
  EXPECT_FALSE(ri.complete());
  kr.saved = static_cast<std::uint64_t>(*q_int(db, "SELECT count(*) FROM events WHERE type=" +
                                                   std::to_string(rectest::code(EventType::chan_close))));
  EXPECT_EQ(q_int(db, "SELECT count(*) FROM events"), ri.events_recorded);
  // The end marker is the newest saved event, not a later clock reading.
  EXPECT_EQ(q_int(db, "SELECT coalesce(max(t_ns), 0) FROM events"), ri.last_commit_ns);
  // The saved events are a prefix of what was emitted, without holes.
  if (kr.saved > 0) {
    EXPECT_EQ(q_int(db, "SELECT max(id) FROM events WHERE type=" + std::to_string(rectest::code(EventType::chan_close))),
              static_cast<std::int64_t>(kr.saved));
  }
  EXPECT_LE(kr.saved, kr.emitted);
  // A reported batch was committed (flush barrier before the report).
  if (flush) {
    EXPECT_GE(kr.saved, static_cast<std::uint64_t>(batch) * static_cast<std::uint64_t>(reports));
  }
  kr.ok = !::testing::Test::HasFailure();
  return kr;
}

TEST(FaultKill, EndMarkerCoversExactlyTheSavedEvents) {
  // Kill points chosen by a fixed seed (reproducible), after 1..20 reports.
  std::mt19937 rng(18);
  struct Config {
    long batch;
    bool flush;
  };
  for (const Config c : {Config{100, true}, Config{10000, true}, Config{1000, false}}) {
    std::uint64_t lost_total = 0, lost_max = 0;
    const int kills = 5;
    for (int k = 0; k < kills; ++k) {
      const std::string p = rectest::temp_trace("kill");
      const int reports = 1 + static_cast<int>(rng() % 20);
      const KillResult kr = kill_after_batches(p, c.batch, c.flush, reports);
      ASSERT_TRUE(kr.ok) << "batch " << c.batch << " flush " << c.flush << " kill " << k;
      lost_total += kr.emitted - kr.saved;
      lost_max = std::max(lost_max, kr.emitted - kr.saved);
    }
    // The figures of docs/reliability.md.
    std::printf("[ figures  ] batch %ld, %s: %d kills survived, events lost per kill: mean %llu, max %llu\n",
                c.batch, c.flush ? "flush after each batch" : "periodic commits only", kills,
                static_cast<unsigned long long>(lost_total / kills), static_cast<unsigned long long>(lost_max));
  }
}

// --- item 10: exit with threads still cancelling ---------------------------------

// Child body: goroutines create, cancel and inspect contexts (err() ==
// errc::canceled, err().message(): virtual calls on the context error
// category) in a loop while the main thread calls exit(): static destructors
// run under their feet.  Under ASan+UBSan a destroyed category is reported.
TEST(FaultChild, ExitsWhileThreadsCancel) {
  if (!std::getenv("CTXSCOPE_FAULT_EXIT")) GTEST_SKIP() << "helper of the fault tests";
  static std::atomic<long> rounds{0};
  constexpr int kThreads = 4;
  for (int t = 0; t < kThreads; ++t)
    go(background(), "canceller", [] {
      for (;;) {
        auto [ctx, cancel] = with_cancel(background());
        cancel();
        if (!(ctx.err() == errc::canceled) || ctx.err().message().empty()) std::abort();
        rounds.fetch_add(1, std::memory_order_relaxed);
      }
    });
  // Every thread is running its loop before exit (a spin on a counter, not a sleep).
  while (rounds.load(std::memory_order_relaxed) < 1000 * kThreads) std::this_thread::yield();
  std::fflush(stdout);
  std::exit(0);
}

TEST(FaultExit, ExitWithThreadsStillCancellingIsSafe) {
  for (const bool traced : {false, true}) {
    const std::string p = rectest::temp_trace("exit-running");
    const std::string out = p + ".out";
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      setenv("CTXSCOPE_FAULT_EXIT", "1", 1);
      if (traced) setenv("CTXSCOPE_TRACE", p.c_str(), 1);
      execl("/proc/self/exe", "ctxscope_tests", "--gtest_filter=FaultChild.ExitsWhileThreadsCancel", nullptr);
      _exit(127);
    }
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    const std::string said = slurp(out);
    ASSERT_TRUE(WIFEXITED(st)) << "killed by signal " << WTERMSIG(st) << ":\n" << said;
    EXPECT_EQ(WEXITSTATUS(st), 0) << said;
    EXPECT_EQ(said.find("runtime error"), std::string::npos) << said;
    EXPECT_EQ(said.find("Sanitizer"), std::string::npos) << said;
    if (traced) {
      auto r = rectest::must_open(p);
      ASSERT_TRUE(r);
      EXPECT_TRUE(r->run().complete()) << "exit stops the recorder: end marker written";
    }
  }
}

// --- item 13: an exception escaping a go() thread ----------------------------------

// Child body: records CTXSCOPE_FAULT_THROW cancelled contexts, then a
// goroutine throws (std::terminate).
TEST(FaultChild, GoroutineThrows) {
  const char* n_env = std::getenv("CTXSCOPE_FAULT_THROW");
  if (!n_env) GTEST_SKIP() << "helper of the fault tests";
  ASSERT_TRUE(trace::active());
  for (int i = 0; i < std::atoi(n_env); ++i) {
    auto [ctx, cancel] = with_cancel(background());
    cancel();
  }
  go(background(), "thrower", [] { throw std::runtime_error("escaped"); });
  for (;;) pause();
}

TEST(FaultTerminate, EventsBeforeAnEscapedExceptionAreCommitted) {
  const std::string p = rectest::temp_trace("terminate");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd = ::open("/dev/null", O_WRONLY);
    dup2(fd, 2);
    setenv("CTXSCOPE_TRACE", p.c_str(), 1);
    setenv("CTXSCOPE_FAULT_THROW", "500", 1);
    execl("/proc/self/exe", "ctxscope_tests", "--gtest_filter=FaultChild.GoroutineThrows", nullptr);
    _exit(127);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGABRT);
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  // Without the flush, the events of the last commit interval (all of them:
  // the child throws right after emitting) would be lost.
  EXPECT_GE(q_int(r->db(), "SELECT count(*) FROM events WHERE type=" + std::to_string(rectest::code(EventType::ctx_cancel))),
            500);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM threads WHERE name='thrower'"), 1);
  EXPECT_FALSE(r->run().complete());
}

// --- item 9: start/stop cycles ------------------------------------------------------

// Producers emit all the time while the main thread cycles start/stop: an event
// emitted while one recording stops must never surface in the next one (it
// would carry a time before that run's start), and nothing is dropped.
TEST(FaultCycles, ConcurrentProducersNeverLeakIntoTheNextRecording) {
  constexpr int kThreads = 4, kCycles = 50;
  std::atomic<bool> quit{false};
  std::atomic<std::uint64_t> seq{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t)
    producers.emplace_back([&] {
      while (!quit.load(std::memory_order_relaxed)) {
        Event e{};
        e.type = EventType::chan_close;
        e.id = seq.fetch_add(1, std::memory_order_relaxed) + 1;
        rectest::emit(e);
      }
    });
  std::vector<std::string> files;
  std::chrono::steady_clock::duration stop_max{};
  for (int c = 0; c < kCycles; ++c) {
    files.push_back(rectest::temp_trace("cycle"));
    std::string err;
    ASSERT_TRUE(trace::start(files.back(), {}, &err)) << err;
    // Let each recording see events from every producer (a barrier, not a sleep).
    const std::uint64_t until = seq.load() + 2000;
    while (seq.load() < until) std::this_thread::yield();
    const auto t0 = std::chrono::steady_clock::now();
    trace::stop();
    stop_max = std::max(stop_max, std::chrono::steady_clock::now() - t0);
    EXPECT_EQ(trace::events_dropped(), 0u) << "cycle " << c;
  }
  quit = true;
  for (auto& t : producers) t.join();
  std::printf("[ figures  ] slowest stop() with %d producers emitting: %.1f ms\n", kThreads,
              std::chrono::duration<double, std::milli>(stop_max).count());
  std::int64_t seen = 0;
  for (std::size_t c = 0; c < files.size(); ++c) {
    auto r = rectest::must_open(files[c]);
    ASSERT_TRUE(r);
    EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE t_ns < 0"), 0) << "cycle " << c;
    EXPECT_EQ(r->run().events_dropped, 0) << "cycle " << c;
    EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events"), r->run().events_recorded);
    seen += *q_int(r->db(), "SELECT count(*) FROM events");
  }
  EXPECT_GT(seen, 2000 * kCycles);
}

// The race above, made deterministic: an event stamped before start() and
// pushed after it (its producer preempted across the start) is not part of
// the recording — it would carry a time before the run began.
TEST(FaultCycles, AnEventStampedBeforeTheStartIsNotRecorded) {
  const std::string p = rectest::temp_trace("stamped-before");
  Event early{};
  early.type = EventType::chan_close;
  early.id = 7001;
  std::string err;
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  // Stamped a second before now, in the clock domain start() chose (ns or TSC).
  early.time = ctxscope::detail::event_clock() - (ctxscope::detail::event_clock_is_tsc() ? 4'000'000'000ull : 1'000'000'000ull);
  rectest::emit(early);
  Event later{};
  later.type = EventType::chan_close;
  later.id = 7002;
  rectest::emit(later);
  trace::stop();
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE id=7001"), 0);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE id=7002"), 1);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE t_ns < 0"), 0);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events"), r->run().events_recorded);
}

// Exact counts: each recording holds exactly the events emitted between its
// start and stop, by threads that outlive the recordings (their rings are reused).
TEST(FaultCycles, EachRecordingHoldsExactlyItsEvents) {
  constexpr int kThreads = 4, kCycles = 20, kPerThread = 3000;  // > the ring: exercises waiting
  std::vector<std::string> files;
  std::mutex mu;
  std::condition_variable cv;
  int cycle = -1, done = 0;
  bool quit = false;
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t)
    workers.emplace_back([&, t] {
      for (int seen = -1;;) {
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return quit || cycle != seen; });
          if (quit) return;
          seen = cycle;
        }
        for (int i = 0; i < kPerThread; ++i) {
          Event e{};
          e.type = EventType::chan_close;
          e.id = static_cast<std::uint64_t>(seen) * 1000000 + static_cast<std::uint64_t>(t) * 10000 +
                 static_cast<std::uint64_t>(i) + 1;
          rectest::emit(e);
        }
        std::lock_guard lk(mu);
        ++done;
        cv.notify_all();
      }
    });
  for (int c = 0; c < kCycles; ++c) {
    files.push_back(rectest::temp_trace("exact"));
    std::string err;
    ASSERT_TRUE(trace::start(files.back(), {}, &err)) << err;
    {
      std::unique_lock lk(mu);
      done = 0;
      cycle = c;
      cv.notify_all();
      cv.wait(lk, [&] { return done == kThreads; });
    }
    trace::stop();
  }
  {
    std::lock_guard lk(mu);
    quit = true;
    cv.notify_all();
  }
  for (auto& w : workers) w.join();
  for (int c = 0; c < kCycles; ++c) {
    auto r = rectest::must_open(files[static_cast<std::size_t>(c)]);
    ASSERT_TRUE(r);
    const std::string lo = std::to_string(static_cast<std::int64_t>(c) * 1000000), hi = std::to_string((c + 1) * 1000000LL);
    EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE type=" + std::to_string(rectest::code(EventType::chan_close))),
              kThreads * kPerThread)
        << "cycle " << c;
    EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE id > " + lo + " AND id <= " + hi +
                             " AND type=" + std::to_string(rectest::code(EventType::chan_close))),
              kThreads * kPerThread)
        << "cycle " << c;
    EXPECT_EQ(r->run().events_dropped, 0);
  }
}

}  // namespace
}  // namespace ctxscope
