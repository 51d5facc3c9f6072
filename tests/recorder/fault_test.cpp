// Fault injection (issue 18): what the recorder and the reader do to files that
// are not theirs, to WAL-only traces, under a full disk and when killed.
// Processes are ordered with pipes and waitpid, never with sleeps.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "ctxscope/context.hpp"
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

// Starts the helper above recording `n` cancel pairs into `p`, kills it once
// they are committed; returns its pid.
pid_t record_then_kill(const std::string& p, int n) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    setenv("CTXSCOPE_TRACE", p.c_str(), 1);
    setenv("CTXSCOPE_FAULT_FD", std::to_string(fds[1]).c_str(), 1);
    setenv("CTXSCOPE_FAULT_N", std::to_string(n).c_str(), 1);
    execl("/proc/self/exe", "ctxscope_tests", "--gtest_filter=FaultChild.RecordsThenWaitsForKill", nullptr);
    _exit(127);
  }
  close(fds[1]);
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

}  // namespace
}  // namespace ctxscope
