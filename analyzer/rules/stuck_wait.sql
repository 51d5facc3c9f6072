-- Rule stuck-wait (error): a wait still blocked at the end of the trace — a
-- leaked goroutine (or, for a test window, a thread the test left behind).
--
-- Exact definition: waits.end_ns IS NULL (read from temp.wait_cand, which
-- holds every such wait).
-- Context: the thread's go() context, else the wait's done case.
-- Site: the blocking call.
SELECT w.id AS wait, w.thread AS thread, coalesce(t.ctx, w.done_ctx) AS ctx, w.done_ctx AS done_ctx,
       w.site AS site, w.object AS object, w.object_id AS object_id, w.label AS label,
       w.begin_ns AS begin_ns
  FROM wait_cand w LEFT JOIN threads t ON t.id = w.thread
 WHERE w.end_ns IS NULL
 ORDER BY w.id;
