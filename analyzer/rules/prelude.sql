-- ctxscope rules, prelude: TEMP helper tables every rule reads.
--
-- Run this once per connection before any rule (the analyzer does; by hand:
--   sqlite3 trace.db '.param set :blind_wait_grace_ns 50000000' \
--     '.param set :late_exit_grace_ns 100000000' \
--     '.param set :end_ns NULL' \
--     '.read analyzer/rules/prelude.sql' '.read analyzer/rules/blind_wait.sql'
-- ).  It writes only TEMP tables, so it works on a read-only trace.
--
-- Enumerations are integer codes in the trace (docs/trace-schema.md, table
-- `enums`); the rules compare codes and name each one in a comment, e.g.
-- `kind = 7 /* value */`.  The codes used here:
--   contexts.kind           2 cancel, 3 timeout, 4 deadline, 5 cause, 6 without_cancel, 7 value
--   contexts.cancel_reason  0 explicit, 1 parent, 2 deadline, 3 born_done
--   waits.outcome           2 done, 3 default

-- Helper tables live in memory: they are small, and a trace may sit on a
-- read-only or slow filesystem.
PRAGMA temp_store = MEMORY;

-- The end of the observed run: the end marker, or for an incomplete run (no
-- end marker) the last committed batch, which is the last moment the trace
-- speaks for; or the moment :end_ns a caller asks about (the probe, at the
-- end of a test of a running binary; NULL otherwise).
DROP TABLE IF EXISTS temp.trace_end;
CREATE TEMP TABLE trace_end AS
  SELECT coalesce(:end_ns, end_ns, last_commit_ns, 0) AS t, end_state FROM run LIMIT 1;

-- wait_cand: the waits some rule could report, read from `waits` in ONE
-- sequential scan (the rules then read this small table): still blocked at
-- the end (stuck-wait, blind-wait), blocked longer than the blind-wait grace
-- (blind-wait), or ended by a done context (use-after-cancel).  A wait that
-- ended on its own within the grace can never be reported.
DROP TABLE IF EXISTS temp.wait_cand;
CREATE TEMP TABLE wait_cand(
  id INTEGER PRIMARY KEY, thread INTEGER, object INTEGER, object_id INTEGER, label TEXT,
  done_ctx INTEGER, site INTEGER, begin_ns INTEGER, end_ns INTEGER, outcome INTEGER);
INSERT INTO wait_cand
  SELECT id, thread, object, object_id, label, done_ctx, site, begin_ns, end_ns, outcome
    FROM waits
   WHERE end_ns IS NULL OR end_ns - begin_ns > :blind_wait_grace_ns OR outcome = 2 /* done */;

-- thread_ctx: the go() threads some rule could report, with their "effective"
-- context: the thread's own context, or for a value context the nearest
-- ancestor with a done of its own (value contexts share their parent's done).
-- Threads under background/todo/without_cancel never have a done and are
-- absent.  Only candidate threads are listed — a thread with a wait that
-- lasted longer than the blind-wait grace (or never ended), or a thread that
-- lived longer than the late-exit grace (or never exited): a shorter wait or
-- life can never be reported, and skipping them keeps the analysis a few
-- sequential scans instead of one lookup per thread.
DROP TABLE IF EXISTS temp.thread_ctx;
CREATE TEMP TABLE thread_ctx(
  thread  INTEGER PRIMARY KEY,
  ctx     INTEGER NOT NULL,   -- threads.ctx: what go() was given
  eff_ctx INTEGER NOT NULL,   -- the cancelable context whose done ends the thread's work
  done_ns INTEGER             -- when eff_ctx became done; NULL if never
);
INSERT INTO thread_ctx
WITH RECURSIVE
cand(thread) AS (
  SELECT thread FROM wait_cand
   WHERE end_ns IS NULL OR end_ns - begin_ns > :blind_wait_grace_ns
  UNION
  SELECT id FROM threads
   WHERE ctx IS NOT NULL AND (exit_ns IS NULL OR exit_ns - coalesce(spawn_ns, 0) > :late_exit_grace_ns)
),
eff(thread, ctx, cur, hops) AS (
  SELECT t.id, t.ctx, t.ctx, 0 FROM cand JOIN threads t ON t.id = cand.thread WHERE t.ctx IS NOT NULL
  UNION ALL
  SELECT eff.thread, eff.ctx, c.parent, eff.hops + 1 FROM eff JOIN contexts c ON c.id = eff.cur
   WHERE c.kind = 7 /* value */ AND c.parent IS NOT NULL AND eff.hops < 10000)
SELECT eff.thread, eff.ctx, eff.cur, c.cancel_ns
  FROM eff JOIN contexts c ON c.id = eff.cur
 WHERE c.kind IN (2 /* cancel */, 3 /* timeout */, 4 /* deadline */, 5 /* cause */);
