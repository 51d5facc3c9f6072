// Whole-process behaviour: the real runtime traced end to end, CTXSCOPE_TRACE
// autostart, SIGKILL at random points, fork().
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"
#include "recorder/recorder_test_util.hpp"

namespace ctxscope {
namespace {

using rectest::q_int;
using rectest::code;
using rectest::q_text;

std::string S(std::uint64_t v) { return std::to_string(v); }

TEST(RecorderRuntime, WithCancelAndCancelRoundTripWithSites) {
  const std::string p = rectest::temp_trace("runtime-cancel");
  std::string err;
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  const auto created = std::source_location::current().line() + 1;
  auto [ctx, cancel] = with_cancel(background());
  const auto cancelled = std::source_location::current().line() + 1;
  cancel();
  EXPECT_TRUE(ctx.err() == errc::canceled);
  trace::flush();
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  sqlite3* db = r->db();
  const std::string c = " FROM contexts WHERE id=" + S(ctx.id());
  EXPECT_EQ(q_int(db, "SELECT kind" + c), code(Kind::cancel));
  EXPECT_EQ(q_int(db, "SELECT parent" + c), 1);
  EXPECT_EQ(q_int(db, "SELECT registered" + c), 0);  // background is not cancelable
  EXPECT_EQ(q_int(db, "SELECT s.line FROM contexts x JOIN sites s ON s.id=x.site WHERE x.id=" + S(ctx.id())), created);
  EXPECT_EQ(q_text(db, "SELECT s.file FROM contexts x JOIN sites s ON s.id=x.site WHERE x.id=" + S(ctx.id())),
            std::source_location::current().file_name());
  EXPECT_EQ(q_int(db, "SELECT cancel_reason" + c), code(CancelReason::explicit_call));
  EXPECT_EQ(q_int(db, "SELECT err" + c), code(errc::canceled));
  // No cause given: the cause is err itself, stored as NULL.
  EXPECT_EQ(q_int(db, "SELECT cause_code" + c), std::nullopt);
  EXPECT_EQ(q_text(db, "SELECT cause_category" + c), std::nullopt);
  EXPECT_EQ(q_int(db, "SELECT s.line FROM contexts x JOIN sites s ON s.id=x.cancel_site WHERE x.id=" + S(ctx.id())),
            cancelled);
  EXPECT_EQ(q_int(db, "SELECT cancel_thread" + c), static_cast<std::int64_t>(detail::current_thread_id()));
  EXPECT_TRUE(q_int(db, "SELECT done_observed_ns" + c).has_value());
  trace::stop();
}

TEST(RecorderRuntime, ParentCancelReachesChildWithOrigin) {
  const std::string p = rectest::temp_trace("runtime-parent");
  std::string err;
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  auto [a, cancel_a] = with_cancel(background());
  auto [b, cancel_b] = with_cancel(a);
  auto [c, cancel_c] = with_timeout(b, std::chrono::hours(1));
  cancel_a();
  trace::flush();
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  sqlite3* db = r->db();
  const std::string cc = " FROM contexts WHERE id=" + S(c.id());
  EXPECT_EQ(q_int(db, "SELECT kind" + cc), code(Kind::timeout));
  EXPECT_EQ(q_int(db, "SELECT registered" + cc), 1);
  EXPECT_EQ(q_int(db, "SELECT cancel_reason" + cc), code(CancelReason::parent));
  EXPECT_EQ(q_int(db, "SELECT cause_code" + cc), std::nullopt);  // inherited cause: canceled, = err
  EXPECT_EQ(q_int(db, "SELECT cancel_origin" + cc), static_cast<std::int64_t>(a.id()));
  EXPECT_TRUE(q_int(db, "SELECT deadline_ns" + cc).has_value());
  EXPECT_GT(*q_int(db, "SELECT deadline_ns" + cc), 3'500'000'000'000);  // ~1 h after the start
  EXPECT_EQ(q_int(db, "SELECT cancel_called_ns" + cc), std::nullopt);
  cancel_b();
  cancel_c();
  trace::stop();
}

TEST(RecorderRuntime, ExplicitCausesAreStoredAndPropagated) {
  const std::string p = rectest::temp_trace("runtime-cause");
  std::string err;
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  auto [a, cancel_a] = with_cancel_cause(background());
  auto [b, cancel_b] = with_cancel(a);
  auto [same, cancel_same] = with_cancel_cause(background());
  auto [timed, cancel_timed] = with_timeout(background(), std::chrono::nanoseconds(1));
  cancel_a(std::make_error_code(std::errc::permission_denied));
  cancel_same(make_error_code(errc::canceled));  // a cause equal to err: the same as no cause
  while (!timed.err()) std::this_thread::yield();
  trace::flush();
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  sqlite3* db = r->db();
  auto col = [&](const std::string& what, std::uint64_t id) {
    return "SELECT " + what + " FROM contexts WHERE id=" + S(id);
  };
  for (std::uint64_t id : {a.id(), b.id()}) {  // b inherits a's cause
    EXPECT_EQ(q_int(db, col("cause_code", id)), static_cast<int>(std::errc::permission_denied)) << id;
    EXPECT_EQ(q_text(db, col("cause_category", id)), "generic") << id;
  }
  EXPECT_EQ(q_int(db, col("kind", a.id())), code(Kind::cause));
  EXPECT_EQ(q_int(db, col("cause_code", same.id())), std::nullopt);
  EXPECT_EQ(q_int(db, col("err", timed.id())), code(errc::deadline_exceeded));
  EXPECT_EQ(q_int(db, col("cancel_reason", timed.id())), code(CancelReason::deadline));
  EXPECT_EQ(q_int(db, col("cause_code", timed.id())), std::nullopt);
  cancel_b();
  cancel_timed();
  trace::stop();
}

TEST(RecorderRuntime, GoroutineBlockedOnChannelIsRecordedAsAWait) {
  const std::string p = rectest::temp_trace("runtime-wait");
  std::string err;
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  auto [ctx, cancel] = with_cancel(background());
  Chan<int> jobs(0, "jobs");
  Chan<int> finished(1);
  const std::uint64_t tid = go(ctx, "worker", [jobs, finished]() mutable {
    (void)jobs.recv();  // blind: returns when closed
    finished.send(1);
  });
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  // Barrier poll (no sleeps): wait until the worker's wait_begin is committed.
  const std::string q = "SELECT count(*) FROM waits WHERE thread=" + S(tid);
  for (;;) {
    trace::flush();
    if (q_int(r->db(), q) == 1) break;
    std::this_thread::yield();
  }
  jobs.close();
  (void)finished.recv();
  cancel();
  trace::flush();
  sqlite3* db = r->db();
  const std::string w = " FROM waits WHERE thread=" + S(tid);
  EXPECT_EQ(q_int(db, "SELECT object" + w), code(WaitObject::chan_recv));
  EXPECT_EQ(q_int(db, "SELECT object_id" + w), static_cast<std::int64_t>(jobs.id()));
  EXPECT_EQ(q_text(db, "SELECT label" + w), "jobs");
  EXPECT_EQ(q_int(db, "SELECT done_ctx" + w), std::nullopt);
  EXPECT_EQ(q_int(db, "SELECT outcome" + w), code(WaitOutcome::closed));
  EXPECT_EQ(q_text(db, "SELECT name FROM threads WHERE id=" + S(tid)), "worker");
  EXPECT_EQ(q_int(db, "SELECT ctx FROM threads WHERE id=" + S(tid)), static_cast<std::int64_t>(ctx.id()));
  EXPECT_EQ(q_text(db, "SELECT label FROM channels WHERE id=" + S(jobs.id())), "jobs");
  EXPECT_TRUE(q_int(db, "SELECT closed_ns FROM channels WHERE id=" + S(jobs.id())).has_value());
  trace::stop();
}

// --- SIGKILL loop ------------------------------------------------------------

// Child body: runs only when re-executed by the loop below (the trace was
// started by CTXSCOPE_TRACE before main).  Traces continuously until killed.
TEST(RecorderCrashChild, TracesUntilKilled) {
  const char* fd_env = std::getenv("CTXSCOPE_REC_CHILD_FD");
  if (!fd_env) GTEST_SKIP() << "helper for RecorderCrash.KilledTracesStayReadable";
  ASSERT_TRUE(trace::active());
  trace::flush();
  const int fd = std::atoi(fd_env);
  ASSERT_EQ(write(fd, "x", 1), 1);
  close(fd);
  for (std::uint64_t i = 0;; ++i) {
    auto [ctx, cancel] = with_cancel(background());
    auto [child, cancel_child] = with_timeout(ctx, std::chrono::seconds(5));
    Chan<int> ch(1, "crash");
    ch.send(static_cast<int>(i));
    (void)ch.recv(child);
    cancel();
    if (i % 2 == 0) cancel_child();
  }
}

TEST(RecorderCrash, KilledTracesStayReadable) {
  std::mt19937 rng(std::random_device{}());
  for (int round = 0; round < 10; ++round) {
    const std::string p = rectest::temp_trace("killed");
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      setenv("CTXSCOPE_TRACE", p.c_str(), 1);
      setenv("CTXSCOPE_REC_CHILD_FD", std::to_string(fds[1]).c_str(), 1);
      execl("/proc/self/exe", "ctxscope_tests", "--gtest_filter=RecorderCrashChild.TracesUntilKilled", nullptr);
      _exit(127);
    }
    close(fds[1]);
    pollfd pf{fds[0], POLLIN, 0};
    ASSERT_EQ(poll(&pf, 1, 20000), 1) << "child did not start tracing";
    char c;
    ASSERT_EQ(read(fds[0], &c, 1), 1);
    close(fds[0]);
    // The random kill point: anywhere in 0..300 ms of continuous tracing.
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300'000));
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    ASSERT_TRUE(WIFSIGNALED(st));

    std::string err;
    auto r = trace::TraceReader::open(p, &err);
    ASSERT_TRUE(r.has_value()) << "round " << round << ": " << err;
    EXPECT_EQ(q_text(r->db(), "PRAGMA integrity_check"), "ok");
    EXPECT_FALSE(r->run().complete());
    EXPECT_EQ(r->run().pid, pid);
    EXPECT_EQ(r->run().events_dropped, 0);
    EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events"), r->run().events_recorded);
    bool incomplete_reported = false;
    for (auto& w : r->warnings()) incomplete_reported |= w.find("incomplete trace") != std::string::npos;
    EXPECT_TRUE(incomplete_reported);
  }
}

// --- fork ----------------------------------------------------------------------

TEST(RecorderFork, ChildOfATracedProcessDoesNotWriteTheParentsFile) {
  const std::string p = rectest::temp_trace("fork");
  std::string err;
  ASSERT_TRUE(trace::start(p, {}, &err)) << err;
  const std::uint64_t marker = 1ull << 43;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Event e{};
    e.type = EventType::chan_close;
    e.id = marker;
    rectest::emit(e);
    trace::flush();  // no-op in the child
    trace::stop();   // no-op in the child: never touches the parent's connection
    _exit(trace::active() ? 1 : 0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
  Event e{};
  e.type = EventType::chan_close;
  e.id = marker + 1;
  rectest::emit(e);
  trace::stop();
  auto r = rectest::must_open(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE id=" + S(marker)), 0);
  EXPECT_EQ(q_int(r->db(), "SELECT count(*) FROM events WHERE id=" + S(marker + 1)), 1);
  EXPECT_EQ(q_text(r->db(), "PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace ctxscope
