// Deterministic synthetic traces shaped like the scenarios (fixed ids, sites
// and times), shared by the golden tests and the report/CLI tests.  Their
// sites name files under `synthetic/`, which does not exist: the lines are
// made up, and must never look like lines of the samples (the goldens
// recorded from the real samples are in golden/recorded/).
#pragma once

#include "trace_builder.hpp"

namespace ctxscope::testing {

inline constexpr std::int64_t kMs = 1'000'000;

/// ci-job: a waiter receives on "finished" without observing its context; the
/// caller's 100 ms timeout fires; the receive never ends.  blind-wait + stuck-wait.
inline void build_ci_job(const std::filesystem::path& p) {
  TraceBuilder b(p, 400 * kMs);
  auto create = b.site("synthetic/ci-job.cpp", 39, "run_job", 36);
  auto go = b.site("synthetic/ci-job.cpp", 41, "run_job", 3);
  auto recv = b.site("synthetic/ci-job.cpp", 32, "wait_for_job", 20);
  b.ctx({.id = 1026, .kind = "timeout", .created_ns = 1 * kMs, .site = create, .cancel_ns = 101 * kMs,
         .cancel_reason = "deadline", .cancel_called_ns = 102 * kMs});
  b.thread({.id = 3, .name = "wait-job", .ctx = 1026, .spawn_ns = 2 * kMs, .spawn_site = go});
  b.wait({.id = 2000, .thread = 3, .object = "chan_recv", .object_id = 7, .label = "job.finished", .site = recv,
          .begin_ns = 3 * kMs});
}

/// fanout: a group context cancelled by its parent's deadline; one task's select
/// ignores it and exits late; a per-task timeout is released only by the parent.
inline void build_fanout(const std::filesystem::path& p) {
  TraceBuilder b(p, 600 * kMs);
  auto req = b.site("synthetic/fanout-timeout.cpp", 80, "handle", 20);
  auto grp = b.site("synthetic/fanout-timeout.cpp", 68, "handle", 30);
  auto task = b.site("synthetic/fanout-timeout.cpp", 55, "fetch_logs", 22);
  auto go = b.site("synthetic/fanout-timeout.cpp", 71, "handle", 7);
  auto sel = b.site("synthetic/fanout-timeout.cpp", 60, "fetch_logs", 41);
  b.ctx({.id = 1024, .kind = "timeout", .created_ns = 0, .site = req, .cancel_ns = 100 * kMs,
         .cancel_reason = "deadline", .cancel_called_ns = 350 * kMs});
  b.ctx({.id = 1027, .parent = 1024, .kind = "cause", .created_ns = 1 * kMs, .site = grp, .registered = 1,
         .cancel_ns = 100 * kMs, .cancel_reason = "parent", .cancel_parent = 1024, .cancel_origin = 1024,
         .cancel_called_ns = 340 * kMs});
  b.ctx({.id = 1030, .parent = 1027, .kind = "timeout", .thread = 4, .created_ns = 2 * kMs, .site = task,
         .registered = 1, .cancel_ns = 100 * kMs, .cancel_reason = "parent", .cancel_parent = 1027,
         .cancel_origin = 1024, .dropped_ns = 330 * kMs, .dropped_when_done = 1});
  b.thread({.id = 4, .name = "fetch-logs", .ctx = 1027, .spawn_ns = 2 * kMs, .spawn_site = go,
            .exit_ns = 330 * kMs});
  b.wait({.id = 4096, .thread = 4, .object = "select", .site = sel, .begin_ns = 3 * kMs, .end_ns = 300 * kMs,
          .outcome = "value"});
}

/// http-premature-cancel: main cancels the request context (defer) and then
/// reads the body under it; a leaked with_cancel under the server context.
inline void build_premature_cancel(const std::filesystem::path& p) {
  TraceBuilder b(p, 50 * kMs);
  auto srv = b.site("synthetic/http-premature-cancel.cpp", 70, "main", 30);
  auto req = b.site("synthetic/http-premature-cancel.cpp", 20, "do_request", 34);
  auto cancel = b.site("synthetic/http-premature-cancel.cpp", 27, "do_request", 1);
  auto read = b.site("synthetic/http-premature-cancel.cpp", 37, "read_body", 49);
  auto leak = b.site("synthetic/http-premature-cancel.cpp", 72, "main", 20);
  auto st = b.stack({"main", "__libc_start_main"});
  b.ctx({.id = 1024, .created_ns = 0, .site = srv, .cancel_ns = 49 * kMs, .cancel_reason = "explicit",
         .cancel_thread = 1, .cancel_called_ns = 49 * kMs});
  b.ctx({.id = 1025, .parent = 1024, .kind = "timeout", .created_ns = 1 * kMs, .site = req, .registered = 1,
         .cancel_ns = 5 * kMs, .cancel_reason = "explicit", .cancel_thread = 1, .cancel_site = cancel,
         .cancel_called_ns = 5 * kMs});
  b.ctx({.id = 1026, .parent = 1, .created_ns = 2 * kMs, .site = leak, .stack = st});
  b.wait({.id = 3000, .thread = 1, .object = "chan_recv", .object_id = 12, .label = "response body",
          .done_ctx = 1025, .site = read, .begin_ns = 5 * kMs + 5000, .end_ns = 5 * kMs + 5000,
          .outcome = "done"});
}

}  // namespace ctxscope::testing
