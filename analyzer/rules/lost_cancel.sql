-- rule: lost-cancel
-- severity: error
-- summary: A cancelable context whose cancel function was never called.
-- subkind: dropped error: the last copy of the CancelFunc was destroyed uncalled
--     while the context was not done: cancelling became impossible
-- subkind: leaked error: never done by the end of the run: it stays registered
--     with its parent (and keeps its timer) for as long as the parent lives
-- subkind: released-by-deadline warning: done only because its own deadline fired
-- subkind: released-by-parent warning: done only because an ancestor was
--     cancelled (or it was created from a done parent)
-- site: the creation site (the with_* call)
-- site-calls: with_cancel with_timeout with_deadline with_cancel_cause
-- columns: ctx thread site stack created_ns done_ns done_reason origin dropped_ns
--     dropped_thread registered released_ns subkind
-- help: Call the cancel function on every path: `auto _ = defer(cancel);` right
--     after the with_* call (Go's `defer cancel()`). Until it is called the
--     context stays registered with its parent and keeps its timer.
-- lint: The cancel function of a cancelable context is discarded or not used on
--     every path to the end of the function (possible context leak).
--
-- Exact definition, on the `contexts` table:
--   kind IN (cancel, timeout, deadline, cause) AND cancel_called_ns IS NULL
SELECT
  c.id            AS ctx,
  c.thread        AS thread,
  c.site          AS site,
  c.stack         AS stack,
  c.created_ns    AS created_ns,
  c.cancel_ns     AS done_ns,
  c.cancel_reason AS done_reason,
  c.cancel_origin AS origin,
  c.dropped_ns    AS dropped_ns,
  c.dropped_thread AS dropped_thread,
  c.registered    AS registered,
  c.released_ns   AS released_ns,
  CASE
    WHEN c.dropped_ns IS NOT NULL AND coalesce(c.dropped_when_done, 0) = 0 THEN 'dropped'
    WHEN c.cancel_ns IS NULL THEN 'leaked'
    WHEN c.cancel_reason = 2 /* deadline */ THEN 'released-by-deadline'
    ELSE 'released-by-parent'
  END             AS subkind
FROM contexts c
WHERE c.kind IN (2 /* cancel */, 3 /* timeout */, 4 /* deadline */, 5 /* cause */)
  AND c.cancel_called_ns IS NULL
ORDER BY c.id;
