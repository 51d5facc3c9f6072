-- rule: stuck-wait
-- severity: error
-- summary: A wait still blocked at the end of the trace (a leaked goroutine).
-- site: the blocking call
-- site-calls: recv send select wait sleep_for
-- columns: wait thread ctx done_ctx site object object_id label begin_ns
-- help: Make sure every wait can end: give a channel room for every sender (or
--     close it), or make the operation observe a context that is cancelled when
--     its result is no longer wanted (`ch.send(ctx, v)`, `select(..., ctx.done())`).
--
-- Exact definition: waits.end_ns IS NULL (read from temp.wait_cand, which
-- holds every such wait).
-- Context: the thread's go() context, else the wait's done case.
SELECT w.id AS wait, w.thread AS thread, coalesce(t.ctx, w.done_ctx) AS ctx, w.done_ctx AS done_ctx,
       w.site AS site, w.object AS object, w.object_id AS object_id, w.label AS label,
       w.begin_ns AS begin_ns
  FROM wait_cand w LEFT JOIN threads t ON t.id = w.thread
 WHERE w.end_ns IS NULL
 ORDER BY w.id;
