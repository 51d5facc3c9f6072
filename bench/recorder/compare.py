#!/usr/bin/env python3
"""Prints the recorder's figures against the issue's targets, ratios side by side.

usage: compare.py RUN.json   (one `ctxscope_bench_recorder --benchmark_format=json` run)
Every ratio is computed from benchmarks of that one run.  Exit status 0, or 2
on unreadable input.
"""
import json
import sys

UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1]) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print(f"compare.py: {sys.argv[1]}: {e}", file=sys.stderr)
        return 2
    b = {}
    for row in data.get("benchmarks", []):
        if row.get("run_type") == "aggregate":
            continue
        name = row["name"].split("/iterations")[0].split("/manual_time")[0].split("/real_time")[0]
        b[name] = row

    def t(name):  # ns per iteration
        r = b[name]
        return r["real_time"] * UNIT_NS[r.get("time_unit", "ns")]

    def c(name, counter):
        return b[name][counter]

    def per(name, counter):  # kIsRate|kInvert counters are seconds per item in JSON
        return b[name][counter] * 1e9

    rows = []

    def add(what, value, target, ok):
        rows.append((what, value, target, "info" if ok is None else ("PASS" if ok else "MISS")))

    try:
        ev = per("Enqueue_OnEvent", "ns/event")
        add("enqueue on the hot thread (on_event, stacks off)", f"{ev:.1f} ns/event", "<= 25 ns", ev <= 25)
        ei = per("Enqueue_OnEvent_idle", "ns/event")
        add("  the same after the thread slept in flush() (cold caches on wake)", f"{ei:.1f} ns/event", "-", None)
        em = per("Enqueue_EmitTo", "ns/event")
        add("emit_to (clock read + thread id + on_event)", f"{em:.1f} ns/event", "-", None)
        un, tr = per("WithCancel_untraced_burst", "ns/op"), per("WithCancel_traced_nostacks_burst", "ns/op")
        add("with_cancel+cancel, traced without stacks / untraced (hot thread)", f"{tr:.0f} / {un:.0f} ns = {tr / un:.2f}x", "<= 2x",
            tr / un <= 2)
        us, ts = t("WithCancel_untraced_sustained"), t("WithCancel_traced_sustained")
        add("with_cancel+cancel sustained, traced / untraced (incl. back-pressure)",
            f"{ts:.0f} / {us:.0f} ns = {ts / us:.1f}x", "-", None)
        fu, ft, fn = t("FanOut_untraced"), t("FanOut_traced"), t("FanOut_traced_nostacks")
        add("fan-out request (errgroup of 16 goroutines, simulated I/O), traced with stacks (default) / untraced",
            f"{ft / 1e3:.0f} / {fu / 1e3:.0f} us = {100 * (ft / fu - 1):+.1f}%",
            "<= +5% (median of 5: run.sh BUILD fanout)", ft / fu <= 1.05)
        add("  the same traced without stacks (CTXSCOPE_STACKS=0) / untraced",
            f"{fn / 1e3:.0f} / {fu / 1e3:.0f} us = {100 * (fn / fu - 1):+.1f}%",
            "<= +3% (median of 5: run.sh BUILD fanout)", fn / fu <= 1.03)
        for n in ("1", "2"):
            s = f"SustainedVsRaw/{n}"
            rate, drops = c(s, "recorder_ev/s"), c(s, "dropped")
            add(f"sustained events/s into the file, {n} producer thread(s)",
                f"{rate / 1e6:.2f} M/s, {drops:.0f} dropped", ">= 1.20 M/s, 0 dropped", rate >= 1.2e6 and drops == 0)
            add(f"  recorder / raw per-row insert loop ({c(s, 'raw_ev/s') / 1e6:.2f} M/s)",
                f"{c(s, 'recorder/raw'):.2f}x", ">= 0.5x", c(s, "recorder/raw") >= 0.5)
            add(f"  recorder / raw_min batched loop ({c(s, 'raw_min_ev/s') / 1e6:.2f} M/s)",
                f"{c(s, 'recorder/raw_min'):.2f}x", ">= 0.5x", c(s, "recorder/raw_min") >= 0.5)
            add("  bytes per event on disk", f"{c(s, 'bytes/event'):.2f}", "<= 40", c(s, "bytes/event") <= 40)
        for name, what, target in (("StackCapture_cfi/14", "one capture, cfi (default), 14 addresses (8 frames + the runtime's 6)", 150),
                                   ("StackCapture_cfi/22", "one capture, cfi, 22 addresses (16 frames)", None),
                                   ("StackCapture_libunwind/14", "one capture, libunwind, 14 addresses", None),
                                   ("StackCapture_libunwind/22", "one capture, libunwind, 22 addresses", None),
                                   ("StackCapture_boost/14", "one capture, Boost.Stacktrace (before), 14 addresses", None)):
            v = t(name)
            add(what, f"{v:.0f} ns", f"<= {target} ns" if target else "report", v <= target if target else None)
        for name, what, target in (
                ("WithCancel_traced_stacks8_cfi_burst", "stacks 8 frames (default), cfi", 150),
                ("WithCancel_traced_stacks16_cfi_burst", "stacks 16 frames, cfi", None),
                ("WithCancel_traced_stacks8_libunwind_burst", "stacks 8 frames, libunwind", None),
                ("WithCancel_traced_stacks8_boost_burst", "stacks 8 frames, Boost.Stacktrace (before)", None),
                ("WithCancel_traced_stacks16_libunwind_burst", "stacks 16 frames, libunwind", None)):
            st = per(name, "ns/op")
            cap = (st - tr) / 2
            add(f"{what}: with_cancel+cancel = 2 captures", f"{st:.0f} ns/op, {cap:.0f} ns per capture",
                f"<= {target} ns per capture" if target else "report", cap <= target if target else None)
    except KeyError as e:
        print(f"compare.py: {sys.argv[1]}: missing benchmark or counter {e}", file=sys.stderr)
        return 2
    print("| measure | value | target | |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
