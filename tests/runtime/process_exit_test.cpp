// A process whose goroutine-like threads are still blocked when main returns
// exits normally (Go's semantics: main returning ends the program).  The test
// re-executes this binary as a child that leaves threads blocked on a channel
// receive, a WaitGroup, a done wait and a select, and returns from main.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ctxscope/chan.hpp"
#include "ctxscope/context.hpp"
#include "ctxscope/go.hpp"
#include "runtime/event_recorder.hpp"

extern char** environ;

using namespace std::chrono_literals;
using namespace ctxscope;

namespace {

constexpr const char* kChildVar = "CTXSCOPE_TEST_CHILD";
constexpr const char* kChildMode = "blocked_exit";

bool is_child() {
  const char* v = std::getenv(kChildVar);
  return v != nullptr && std::strcmp(v, kChildMode) == 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string temp_dir() {
  const char* t = std::getenv("CTXSCOPE_TEST_TMP");
  if (t != nullptr && *t != '\0') {
    std::string d = t;
    ::mkdir(d.c_str(), 0755);  // may exist already
    return d;
  }
  return "/tmp";
}

}  // namespace

// Runs only as the child of the test below (skipped in a normal run).
TEST(ProcessExitChild, LeavesThreadsBlockedAndReturns) {
  if (!is_child()) GTEST_SKIP() << "runs only as the child of ProcessExit.*";
  ctxscope::testing::ScopedRecorder rec;
  auto [ctx, cancel] = with_cancel(background());
  auto [timed, tc] = with_timeout(background(), 1h);  // keeps the timer thread busy too
  Chan<int> ch;
  WaitGroup wg;
  wg.add(1);
  Chan<int> other;
  go(ctx, "blocked-recv", [ch]() mutable { ch.recv(); });
  go(ctx, "blocked-wg", [wg] { wg.wait(); });
  go(ctx, "blocked-done", [ctx = ctx] { ctx.done().wait(); });
  go(timed, "blocked-select", [ch, other, timed = timed]() mutable { select(ch.on_recv(), other.on_send(1), timed.done()); });
  std::thread plain([ch]() mutable { ch.recv(); });  // a std::thread, detached
  plain.detach();
  ASSERT_TRUE(rec.wait_blocked(WaitObject::waitgroup, wg.id()));
  ASSERT_TRUE(rec.wait_blocked_on_ctx(ctx.id()));
  ASSERT_TRUE(rec.wait_blocked_on_ctx(timed.id()));
  ASSERT_TRUE(ctxscope::testing::eventually([&] {
    return rec.where(EventType::wait_begin, [&](const Event& e) {
             return e.value == ch.id() && e.kind == static_cast<std::uint8_t>(WaitObject::chan_recv);
           }).size() == 2;
  }));
  // Return with every thread still blocked; main returns after this test.
}

TEST(ProcessExit, ExitsNormallyWithGoroutinesStillBlocked) {
  if (is_child()) GTEST_SKIP();
  const std::string dir = temp_dir();
  const std::string out_path = dir + "/blocked_exit." + std::to_string(::getpid()) + ".out";

  std::string filter = "--gtest_filter=ProcessExitChild.LeavesThreadsBlockedAndReturns";
  std::string exe = "/proc/self/exe";
  std::vector<char*> argv{exe.data(), filter.data(), nullptr};
  std::string child_var = std::string(kChildVar) + "=" + kChildMode;
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, kChildVar, std::strlen(kChildVar)) != 0) envp.push_back(*e);
  envp.push_back(child_var.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ASSERT_EQ(rc, 0) << "posix_spawn: " << std::strerror(rc);

  // Hang detector, not a timing assertion: a child that never exits is killed.
  int status = 0;
  const auto limit = std::chrono::steady_clock::now() + 20s;
  bool exited = false;
  while (std::chrono::steady_clock::now() < limit) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    ASSERT_NE(r, -1) << std::strerror(errno);
    if (r == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(10ms);  // polling interval of the hang detector
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  const std::string out = read_file(out_path);
  ::unlink(out_path.c_str());
  ASSERT_TRUE(exited) << "the child hung at exit with blocked threads; its output:\n" << out;
  ASSERT_TRUE(WIFEXITED(status)) << "child ended by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0)
                                 << "; its output:\n" << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  // the child really ran its test (it was not skipped or filtered away)
  EXPECT_NE(out.find("[  PASSED  ] 1 test"), std::string::npos) << out;
  EXPECT_EQ(out.find("SKIPPED"), std::string::npos) << out;
}
