-- rule: use-after-cancel
-- severity: warning
-- summary: A blocking operation begun under a context its own thread had already
--     cancelled (a premature cancel).
-- site: the blocking call
-- site-calls: recv send select wait sleep_for
-- columns: wait thread ctx origin site object object_id label begin_ns cancel_ns
--     cancel_site stack repeats
-- help: Cancel a context only when the work under it is finished: hand the
--     CancelFunc to whatever outlives the call (a response whose body is read
--     later) and call it when that work ends.
--
-- Exact definition, for a wait w whose done case is context X:
--   * w ended with outcome done, and X was already done when w began
--     (X.cancel_ns <= w.begin_ns; the runtime records a ctx-aware operation on
--     a done context as a zero-length wait), and
--   * the cancel that made X done — X's own, or for reason parent the
--     origin's — was an explicit cancel call made on w's thread.
-- A value context has no done of its own and a context created from a done
-- parent (born_done) was never cancelled by anyone: for those the walk goes up
-- to the context whose own cancellation it is.
-- A worker that sees done because ANOTHER thread cancelled is the normal
-- shutdown path and is not reported.  One finding per (site, context): a loop
-- retrying the same read reports once.
WITH RECURSIVE
-- Waits ended by done, with their done context (one primary-key lookup each).
dw AS MATERIALIZED (
  SELECT w.id AS wait, w.begin_ns AS begin_ns, c.id AS ctx, c.kind AS kind, c.parent AS parent,
         c.cancel_reason AS reason, c.cancel_ns AS cancel_ns
    FROM wait_cand w JOIN contexts c ON c.id = w.done_ctx
   WHERE w.outcome = 2 /* done */
),
-- Value / born-done done contexts: walk up to the context with a cancel of its own.
src(wait, ctx, hops) AS (
  SELECT wait, parent, 1 FROM dw
   WHERE (kind = 7 /* value */ OR reason = 3 /* born_done */) AND parent IS NOT NULL
  UNION ALL
  SELECT src.wait, c.parent, src.hops + 1 FROM src JOIN contexts c ON c.id = src.ctx
   WHERE (c.kind = 7 /* value */ OR c.cancel_reason = 3 /* born_done */) AND c.parent IS NOT NULL
     AND src.hops < 10000
),
-- For each wait, the context whose own cancellation it observed, when that
-- cancellation came before the wait began.
cause(wait, ctx) AS (
  SELECT wait, ctx FROM dw
   WHERE kind <> 7 /* value */ AND coalesce(reason, -1) <> 3 /* born_done */ AND cancel_ns <= begin_ns
  UNION ALL
  SELECT src.wait, src.ctx FROM src JOIN contexts c ON c.id = src.ctx
   WHERE c.kind <> 7 /* value */ AND coalesce(c.cancel_reason, -1) <> 3 /* born_done */
)
SELECT w.id AS wait, w.thread AS thread, w.done_ctx AS ctx, o.id AS origin, w.site AS site,
       w.object AS object, w.object_id AS object_id, w.label AS label,
       min(w.begin_ns) AS begin_ns, o.cancel_ns AS cancel_ns, o.cancel_site AS cancel_site,
       o.cancel_stack AS stack, count(*) AS repeats
  FROM cause
  JOIN wait_cand w ON w.id = cause.wait
  JOIN contexts x ON x.id = cause.ctx
  JOIN contexts o ON o.id = CASE x.cancel_reason WHEN 1 /* parent */ THEN x.cancel_origin ELSE x.id END
 WHERE x.cancel_ns IS NOT NULL AND x.cancel_ns <= w.begin_ns
   AND o.cancel_reason = 0 /* explicit */
   AND o.cancel_thread = w.thread
 GROUP BY w.site, w.done_ctx
 ORDER BY min(w.id);
