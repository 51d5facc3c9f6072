#!/usr/bin/env python3
"""Prints the runtime-vs-Go comparison table (used by bench/compare_go.sh).

usage: compare.py --out table.md --cpp round1.json [...] --go round1.txt [...]

Each --cpp file is one `ctxscope_bench_runtime --benchmark_format=json` run,
each --go file one `go test -bench . -benchmem` run of bench/go.  Per benchmark
the fastest round is kept (CTXSCOPE_BENCH_STAT=median: the median).  Every row
is (operation, C++ value, peer value, peer name, ratio, target, PASS/MISS/info).
Exit status: 0, or 1 when CTXSCOPE_BENCH_STRICT=1 and a target is missed;
2 on unreadable input.
"""
import argparse
import json
import os
import platform
import re
import statistics
import sys

UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def fail(msg):
    print(f"compare.py: {msg}", file=sys.stderr)
    sys.exit(2)


def pick(values):
    if os.environ.get("CTXSCOPE_BENCH_STAT", "min") == "median":
        return statistics.median(values)
    return min(values)


COUNTERS = {}  # {name: {counter: aggregated value}} of the C++ runs (e.g. proc_cpu_ns)


def load_cpp(paths):
    """(benchmark context of the first run, {name: aggregated real ns/op}).
    User counters (process CPU ns and context switches per op of the channel
    benchmarks) are aggregated into COUNTERS the same way."""
    context, runs, counters = None, {}, {}
    for path in paths:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            fail(f"{path}: not a Google Benchmark JSON file ({e})")
        if context is None:
            context = data.get("context", {})
        for b in data.get("benchmarks", []):
            if b.get("error_occurred"):
                print(f"compare.py: {path}: {b['name']}: {b.get('error_message')}", file=sys.stderr)
                continue
            if b.get("run_type") == "aggregate":
                continue
            name = b.get("run_name", b["name"]).split("/")[0]
            ns = b["real_time"] * UNIT_NS[b.get("time_unit", "ns")]
            runs.setdefault(name, []).append(ns)
            for k in ("proc_cpu_ns", "vcsw"):
                if k in b:
                    counters.setdefault(name, {}).setdefault(k, []).append(float(b[k]))
    if not runs:
        fail(f"{' '.join(paths)}: no C++ benchmark results")
    for name, ks in counters.items():
        COUNTERS[name] = {k: pick(v) for k, v in ks.items()}
    return context or {}, {name: pick(v) for name, v in runs.items()}


GO_LINE = re.compile(r"^Benchmark(\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$")


def load_go(paths):
    """{name: {metric: aggregated value}} over every run of every file."""
    runs = {}
    for path in paths:
        try:
            lines = open(path).read().splitlines()
        except OSError as e:
            fail(f"{path}: {e}")
        for line in lines:
            m = GO_LINE.match(line)
            if not m:
                continue
            fields = m.group(3).split()
            metrics = {fields[i + 1]: float(fields[i]) for i in range(0, len(fields) - 1, 2)}
            runs.setdefault(m.group(1), []).append(metrics)
    if not runs:
        fail(f"{' '.join(paths)}: no Go benchmark results")
    return {name: {k: pick([r[k] for r in rs if k in r]) for k in rs[0]} for name, rs in runs.items()}


def main():
    ap = argparse.ArgumentParser(description="runtime vs Go comparison table")
    ap.add_argument("--out", required=True, help="Markdown copy of the table")
    ap.add_argument("--cpp", nargs="+", required=True, help="ctxscope_bench_runtime JSON runs")
    ap.add_argument("--go", nargs="+", required=True, help="go test -bench outputs")
    args = ap.parse_args()
    ctx, cpp = load_cpp(args.cpp)
    go = load_go(args.go)
    rounds = f"{len(args.cpp)} C++ / {len(args.go)} Go rounds, " + (
        "median" if os.environ.get("CTXSCOPE_BENCH_STAT") == "median" else "best round")

    def c(name, div=1.0):
        return cpp[name] / div if name in cpp else None

    def g(name, metric="ns/op", div=1.0):
        return go[name][metric] / div if name in go and metric in go[name] else None

    def cx(key):
        return float(ctx[key]) if key in ctx else None

    rows = []  # (operation, cpp, peer, peer_name, max_ratio or None, absolute limit or None)

    def ratio_row(op, cv, pv, peer, limit):
        rows.append((op, cv, pv, peer, limit, None))

    ratio_row("with_cancel + cancel, cancelable parent", c("WithCancelFromCancelableParent"),
              g("WithCancelFromCancelableParent"), "Go WithCancel+cancel", 1.0)
    ratio_row("with_cancel + cancel, cancelable parent", c("WithCancelFromCancelableParent"),
              c("StdStopSourceCreateRequestStop"), "std::stop_source+request_stop", 3.0)
    ratio_row("with_cancel + cancel, background parent", c("WithCancelFromBackground"),
              c("StdStopSourceCreateRequestStop"), "std::stop_source+request_stop", None)
    ratio_row("with_cancel + cancel, cancelable parent", c("WithCancelFromCancelableParent"),
              c("StdStopSourceChildOfToken"), "std stop_source+stop_callback child", None)
    ratio_row("cancel a parent of 10k children", c("CancelParent10kChildren"),
              g("CancelParent10kChildren"), "Go", 1.0)
    ratio_row("create 10k children + cancel parent", c("Tree10kCreateAndCancel"),
              g("Tree10kCreateAndCancel"), "Go", None)
    ratio_row("err() on a live context", c("ErrLive"), c("StdStopTokenStopRequested"),
              "std::stop_token::stop_requested", 1.5)
    ratio_row("err() on a live context", c("ErrLive"), g("ErrLive"), "Go ctx.Err()", None)
    ratio_row("is_done() on a live context", c("IsDoneLive"), c("StdStopTokenStopRequested"),
              "std::stop_token::stop_requested", 1.5)
    ratio_row("done().ready() on a live context", c("DoneReadyLive"), g("DoneSelectLive"),
              "Go select{<-Done():;default:}", None)
    ratio_row("with_timeout + cancel, per pair (2 threads)", c("WithTimeout", 10.0),
              g("WithTimeout", div=10.0), "Go BenchmarkWithTimeout/10", 1.0)
    ratio_row("with_timeout + cancel, one thread", c("WithTimeoutCancelPair"),
              g("WithTimeoutCancelPair"), "Go", None)
    ratio_row("Chan<int>(128) throughput, per element", c("ChanBufferedThroughput"),
              g("ChanBufferedThroughput"), "Go chan int (128)", 3.0)
    ratio_row("unbuffered ping-pong, per round trip", c("ChanUnbufferedPingPong"),
              g("ChanUnbufferedPingPong"), "Go unbuffered chan", 3.0)
    ratio_row("unbuffered ping-pong, per round trip", c("ChanUnbufferedPingPong"),
              c("StdAtomicWaitPingPong"), "std::atomic wait/notify ping-pong", None)

    def cc(name, key):
        return COUNTERS.get(name, {}).get(key)

    # CPU time of the whole process (every thread) per element / round trip,
    # next to the wall time above: spinning cannot hide in it.
    ratio_row("Chan<int>(128) process CPU, per element", cc("ChanBufferedThroughput", "proc_cpu_ns"),
              g("ChanBufferedThroughput", "cpu-ns/op"), "Go process CPU", None)
    ratio_row("unbuffered ping-pong process CPU, per round trip", cc("ChanUnbufferedPingPong", "proc_cpu_ns"),
              g("ChanUnbufferedPingPong", "cpu-ns/op"), "Go process CPU", None)
    ratio_row("unbuffered ping-pong process CPU, per round trip", cc("ChanUnbufferedPingPong", "proc_cpu_ns"),
              cc("StdAtomicWaitPingPong", "proc_cpu_ns"), "std::atomic ping-pong process CPU", None)
    rows.append(("Chan<int>(128) context switches per element", cc("ChanBufferedThroughput", "vcsw"),
                 None, "", None, None))
    rows.append(("unbuffered ping-pong context switches per round trip", cc("ChanUnbufferedPingPong", "vcsw"),
                 cc("StdAtomicWaitPingPong", "vcsw"), "std::atomic ping-pong", None, None))

    tb, ta = cx("threads_before"), cx("threads_after_10k_timeouts")
    tp = cx("threads_after_parent_cancel_10k_timeout_children")
    rows.append(("threads added by 10k with_timeout", None if tb is None else ta - tb,
                 g("GoroutinesPer10kTimeoutChildren", "goroutines"), "Go goroutines, foreign parent",
                 None, 1.0))
    rows.append(("threads added after parent cancel of 10k", None if tb is None else tp - tb,
                 None, "", None, 1.0))
    rows.append(("bytes per live with_cancel (requested)", cx("with_cancel_requested_bytes"),
                 g("BytesPerLiveWithCancel", "B/ctx"), "Go live heap B/ctx", None, 128.0))
    rows.append(("bytes per live with_cancel (usable)", cx("with_cancel_usable_bytes"),
                 g("BytesPerLiveWithCancel", "B/ctx"), "Go live heap B/ctx", None, 128.0))
    rows.append(("bytes per live with_timeout (usable)", cx("with_timeout_usable_bytes"),
                 None, "", None, None))

    def fmt(v):
        if v is None:
            return "n/a"
        if v >= 1000:
            return f"{v:,.0f}"
        if v >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"

    table = []
    missed = 0
    for op, cv, pv, peer, limit, absmax in rows:
        # threads/bytes rows compare against an absolute limit; a ratio to a
        # peer that counts something else (goroutines) would mislead.
        ratio = cv / pv if absmax is None and cv is not None and pv not in (None, 0) else None
        if absmax is not None:
            target = f"<= {absmax:g}"
            ok = cv is not None and cv <= absmax
        elif limit is not None:
            target = f"ratio <= {limit:g}"
            ok = ratio is not None and ratio <= limit
        else:
            target, ok = "info", None
        verdict = "info" if ok is None else ("PASS" if ok else "MISS")
        missed += verdict == "MISS"
        table.append((op, fmt(cv), fmt(pv), peer, "n/a" if ratio is None else f"{ratio:.2f}", target, verdict))

    head = ("operation", "C++ ns/op", "peer ns/op", "peer", "ratio", "target", "result")
    widths = [max(len(r[i]) for r in table + [head]) for i in range(len(head))]
    line = lambda r: "  ".join(r[i].ljust(widths[i]) if i in (0, 3, 5, 6) else r[i].rjust(widths[i])
                               for i in range(len(r)))
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for r in table:
        print(line(r))
    print("(threads/bytes/context-switch rows: the C++ and peer columns are counts/bytes, not ns)")

    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                machine = l.split(":", 1)[1].strip() + f", {os.cpu_count()} cores"
                break
    except OSError:
        pass
    load = ""
    try:
        start = open(os.path.join(os.path.dirname(args.cpp[0]), "loadavg_start")).read().split()
        end = open("/proc/loadavg").read().split()[:3]
        load = f" Load average (1/5/15 min) {' '.join(start)} at start, {' '.join(end)} at end."
    except OSError:
        pass
    print(f"Machine: {machine}. {rounds}.{load}")
    with open(args.out, "w") as f:
        f.write(f"Machine: {machine}. {rounds}.{load}\n\n")
        f.write("| " + " | ".join(head) + " |\n")
        f.write("|" + "|".join("---" for _ in head) + "|\n")
        for r in table:  # "Chan<int>" must not read as an HTML tag
            f.write("| " + " | ".join(re.sub(r"<(?=[A-Za-z/])", "&lt;", c) for c in r) + " |\n")
    print(f"{missed} target(s) missed; Markdown table: {args.out}")
    if missed and os.environ.get("CTXSCOPE_BENCH_STRICT") == "1":
        sys.exit(1)


if __name__ == "__main__":
    main()
