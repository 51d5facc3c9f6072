-- rule: blind-wait
-- severity: error
-- summary: A wait that does not observe its thread's context stayed blocked
--     after that context was done (the goroutine ignores cancellation).
-- site: the blocking call
-- site-calls: recv send select wait sleep_for
-- columns: wait thread thread_ctx ctx done_ctx site object object_id label
--     begin_ns end_ns outcome done_ns
-- help: Make the wait observe the thread's context and return its error when it
--     wins: `ch.recv(ctx)`, `ch.send(ctx, v)`, `select(..., ctx.done())`,
--     `wg.wait(ctx)`, `sleep_for(ctx, d)`.
-- supersedes: stuck-wait (a blind wait still blocked at the end is one defect,
--     reported once, as blind-wait, whose message says it is still blocked)
-- lint: A blocking call that cannot observe the Context in scope: it will not
--     give up when the context is done.
--
-- Exact definition, for a wait w on a go() thread whose effective context C
-- (temp.thread_ctx) became done at C.done_ns:
--   * w is not a select that took its default case, and
--   * w was blocked after C was done for longer than the grace period:
--       w.end_ns IS NULL (still blocked at the end of the run), or
--       w.end_ns - max(w.begin_ns, C.done_ns) > :blind_wait_grace_ns
--     (a wait that ends on a value while the cancel races it is clean), and
--   * w does not observe C: its done case (waits.done_ctx) is not C nor a
--     descendant of C that C's cancellation reaches (a path without a
--     without_cancel context).  A wait observing only an unrelated context
--     is blind to C.
WITH RECURSIVE cand AS (
  SELECT w.id AS wait, w.thread AS thread, tc.ctx AS thread_ctx, tc.eff_ctx AS ctx,
         w.done_ctx AS done_ctx, w.site AS site, w.object AS object, w.object_id AS object_id,
         w.label AS label, w.begin_ns AS begin_ns, w.end_ns AS end_ns, w.outcome AS outcome,
         tc.done_ns AS done_ns
    FROM wait_cand w CROSS JOIN thread_ctx tc ON tc.thread = w.thread
   WHERE (w.end_ns IS NULL OR w.end_ns - w.begin_ns > :blind_wait_grace_ns)  -- cheap filter first
     AND tc.done_ns IS NOT NULL
     AND coalesce(w.outcome, -1) <> 3 /* default */
     AND (w.end_ns IS NULL OR w.end_ns - max(w.begin_ns, tc.done_ns) > :blind_wait_grace_ns)
),
-- Contexts whose cancellation reaches each candidate's done case: the done
-- context and its ancestors, up to (and including) the first without_cancel.
reach(wait, ctx, hops) AS (
  SELECT wait, done_ctx, 0 FROM cand WHERE done_ctx IS NOT NULL
  UNION
  SELECT reach.wait, c.parent, reach.hops + 1 FROM reach JOIN contexts c ON c.id = reach.ctx
   WHERE c.kind <> 6 /* without_cancel */ AND c.parent IS NOT NULL AND reach.hops < 10000
)
-- (A join, not NOT EXISTS: the recursive CTE is then computed once.)
SELECT cand.*
  FROM cand LEFT JOIN reach ON reach.wait = cand.wait AND reach.ctx = cand.ctx
 WHERE reach.wait IS NULL
 ORDER BY cand.wait;
