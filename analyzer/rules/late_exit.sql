-- rule: late-exit
-- severity: warning
-- summary: A go() thread kept running longer than the grace period after its
--     context was done.
-- site: the go() call that started the thread
-- site-calls: go
-- columns: thread thread_ctx ctx site spawn_ns exit_ns done_ns
-- help: Observe the context at every blocking step and between steps
--     (`select(..., ctx.done())`, `ch.recv(ctx)`, `sleep_for(ctx, d)`) and
--     return `ctx.err()` when it is done.
--
-- Exact definition, for a thread t with effective context C (temp.thread_ctx)
-- done at C.done_ns, with L = max(C.done_ns, t.spawn_ns):
--   * t exited, and t.exit_ns - L > :late_exit_grace_ns; or
--   * t never exited, trace_end - L > :late_exit_grace_ns, and t is not
--     blocked in a wait at the end (that thread is reported by stuck-wait).
SELECT t.id AS thread, tc.ctx AS thread_ctx, tc.eff_ctx AS ctx, t.spawn_site AS site,
       t.spawn_ns AS spawn_ns, t.exit_ns AS exit_ns, tc.done_ns AS done_ns
  FROM thread_ctx tc JOIN threads t ON t.id = tc.thread
 WHERE tc.done_ns IS NOT NULL
   AND ((t.exit_ns IS NOT NULL
         AND t.exit_ns - max(tc.done_ns, coalesce(t.spawn_ns, 0)) > :late_exit_grace_ns)
     OR (t.exit_ns IS NULL
         AND (SELECT t FROM trace_end) - max(tc.done_ns, coalesce(t.spawn_ns, 0)) > :late_exit_grace_ns
         AND t.id NOT IN (SELECT w.thread FROM wait_cand w WHERE w.end_ns IS NULL)))
 ORDER BY t.id;
