"""Runs the benchmark suite and the instruction counts; writes docs/benchmarks.md and a plot.

Run through `bazel run -c opt //benchmarks:report` (tools/report does), which passes the
binaries. Each case group runs separately (`--benchmark_filter='^<case>/'`) so progress shows;
cases where thread placement matters run twice, free and pinned to one CPU (`taskset -c 0`).

Renders any case generically: rows are the benchmark's parameter, columns its contenders,
each cell the median of the repetitions with its ratio to the pipe contender, plus one
library/raw column per library contender that has a raw socketpair counterpart.

Options for a quick check of the pipeline: `--quick` (one short repetition, few callgrind
messages); `--only REGEX` (cases to run); `--from DIR` (render again from a previous run's
JSON in DIR, running nothing).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

# Cases in the order they run and render; cases not listed follow in the suite's order.
CASE_ORDER = [
    "create",
    "vectored",
    "fd_passing",
    "latency",
    "throughput_stream",
    "throughput_stream_tuned",
    "messages",
    "transfer",
    "messages_2cpu",
    "latency_2cpu",
    "async_latency",
    "async_messages",
    "async_fd_passing",
    "receive_call",
]

# Cases with two threads exchanging data: run free and pinned to CPU 0 (see
# /work/shared/notes/performance.md: cross-CPU wake-ups dominate and swing on this machine).
TWO_THREAD_PINNED_CASES = {"latency", "throughput_stream", "throughput_stream_tuned",
                           "messages", "transfer"}
# The asynchronous cases run on one thread, but their target (within 5% of Asio's time) is
# finer than what migrations and the other CPU's load add to an unpinned run: they run pinned
# as well, and the targets are checked in both runs.
ASYNC_TIME_CASES = ("async_latency", "async_messages", "async_fd_passing")
PINNED_CASES = TWO_THREAD_PINNED_CASES | set(ASYNC_TIME_CASES)

CASE_DESCRIPTIONS = {
    "create": "Create a pair and close both ends. CPU time per pair, ns; lower is better.",
    "vectored": "64 KiB out on one end and back in on the other, on one thread: one "
    "contiguous buffer (`1buf`) or 16 buffers of 4 KiB (`16iov`). CPU time per 64 KiB, ns; "
    "lower is better.",
    "fd_passing": "One 1-byte message carrying N descriptors (SCM_RIGHTS), sent and received "
    "on one thread; received descriptors closed. CPU time per message, ns; lower is better.",
    "latency": "Ping-pong round trip between two threads, N bytes each way, the same "
    "exchange for every contender (`shm_spin`: shared memory, waiting calls spin up to 1 ms; "
    "`shm_nospin`: they sleep at once). Time per round trip, µs; lower is better.",
    "throughput_stream": "One direction, writer and reader threads, messages of N bytes, "
    "kernel default buffers. MB/s (10^6 bytes) until the reader holds every byte; higher is "
    "better.",
    "throughput_stream_tuned": "As throughput_stream with 1 MiB kernel buffers: "
    "SO_SNDBUF/SO_RCVBUF on sockets, F_SETPIPE_SZ on the pipe. MB/s; higher is better.",
    "messages": "Small framed or batched messages (benchmarks/messages_bench.cpp); "
    "`shm_channel`: one `send` per message through shared memory, each published at once, "
    "read in place; `shm_channel_batched`: the same sent with `shm_publish::batched` and one "
    "`flush()` per batch, as the framed contenders flush once per batch, and read with "
    "`receive_batch` (every message published so far in one call, one release per call); "
    "`bare_spsc_ring`: the "
    "ceiling for both, a ring of the same records with nothing the channel adds (no "
    "validation, no results, no sockets). Messages per second; higher is better.",
    "messages_2cpu": "The messages case at 64 bytes with the writer bound to CPU 0 and the "
    "reader to CPU 1 (benchmarks/messages_bench.cpp): a producer and a consumer that run at the "
    "same time, the steady state the shared-memory targets are about. Messages per second; "
    "higher is better.",
    "latency_2cpu": "The latency case's round trip, 64 bytes, with the benchmark thread bound "
    "to CPU 0 and the echo thread to CPU 1 (benchmarks/shm_bench.cpp): the round trip between "
    "two CPUs, which the scheduler may otherwise avoid by putting both threads on one. Time "
    "per round trip, µs; lower is better.",
    "async_latency": "Ping-pong round trip of 64 bytes through asynchronous operations, both "
    "ends on one io_context run by one thread (benchmarks/async_contenders.hpp): `asio` is "
    "Boost.Asio's own async_write_some/async_read_some on local::stream_protocol sockets, "
    "`sockpair` the library's async_send/async_receive (<socketpair/asio.hpp>) on a stream "
    "pair, its receives recvmsg(2) so that descriptors riding on the bytes are seen and "
    "reported; `sockpair_refusing` the same with both ends refusing descriptors "
    "(`async_socket::refuse_descriptors`, SO_PASSRIGHTS off, Linux >= 6.16), so that no "
    "descriptor can arrive and async_receive reads with recv(2), as Asio does. CPU time per "
    "round trip, µs; lower is better; in parentheses the ratio to `asio`.",
    "async_messages": "64-byte messages one way through asynchronous operations on one "
    "io_context and one thread, one send operation per message, the writer running ahead of "
    "the reader; contenders as in async_latency. Messages per second of CPU time; higher is "
    "better.",
    "async_fd_passing": "One 1-byte message carrying one descriptor, received asynchronously "
    "(the receive waits before the peer sends, as in a request/reply) on one io_context and "
    "one thread, the descriptor closed; the send is the same sendmsg(2) for both. "
    "`asio`: async_wait(wait_read) then recvmsg(2) with a hand-built cmsghdr, as users write "
    "it today; `sockpair`: async_receive_with_fds<1>. CPU time per message, ns; lower is "
    "better.",
    "receive_call": "One receive call on a non-blocking stream pair, one thread, kernel "
    "included (benchmarks/receive_call_bench.cpp): param 0, on an empty socket (EAGAIN, what a "
    "speculative attempt that finds nothing costs); param 64, after a send(2) of 64 bytes "
    "(the send is the same for both and counted). `recv`: recv(2), as Asio's reads; "
    "`sockpair`: `socket::receive`, a recvmsg(2) offering a control buffer, so that "
    "descriptors riding on the bytes are seen, closed and reported; `epoll_rearm` (param 0 "
    "only): no receive, the epoll_ctl(2) re-arm a readiness wait starts with (Asio's "
    "async_wait, so the hand-written descriptor path), what waiting first would cost instead "
    "of an attempt that finds nothing. What the asynchronous cases' receives cost apart from everything else. "
    "CPU time per call, ns; lower is better; in parentheses the ratio to `recv`.",
    "transfer": "Large messages one way, writer and reader threads (benchmarks/shm_bench.cpp): "
    "the stream pair with 1 MiB buffers (two copies), shared memory with 4 MiB rings copying "
    "in and out (`shm_spin`, two copies) or reading in place (`shm_spin_view`, one copy), "
    "and `memcpy` on one thread (CPU time), the physical limit. MB/s; higher is better.",
}

# Per case: (metric, display unit, scale from the metric's base unit, higher_is_better).
# Time metrics are in ns before scaling; rates in 1/s. One-thread cases use the thread's CPU
# time (user + system), which other processes' load does not inflate; two-thread cases use
# wall-clock time (real_time; manual time for throughput), since waiting is what they measure.
CASE_METRICS = {
    "create": ("cpu_time", "ns", 1.0, False),
    "vectored": ("cpu_time", "ns", 1.0, False),
    "fd_passing": ("cpu_time", "ns", 1.0, False),
    "latency": ("real_time", "µs", 1e-3, False),
    "throughput_stream": ("bytes_per_second", "MB/s", 1e-6, True),
    "throughput_stream_tuned": ("bytes_per_second", "MB/s", 1e-6, True),
    "messages": ("items_per_second", "k msg/s", 1e-3, True),
    "transfer": ("bytes_per_second", "MB/s", 1e-6, True),
    "messages_2cpu": ("items_per_second", "k msg/s", 1e-3, True),
    "latency_2cpu": ("real_time", "µs", 1e-3, False),
    "async_latency": ("cpu_time", "µs", 1e-3, False),
    "async_messages": ("items_per_second", "k msg/s", 1e-3, True),
    "async_fd_passing": ("cpu_time", "ns", 1.0, False),
    "receive_call": ("cpu_time", "ns", 1.0, False),
}

TIME_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Instruction-count modes: (mode, label, measured functions, share of --messages to run).
MEASURED_MODES = [
    ("some", "64 B, one send + one receive call", ("measured_send_some",
                                                   "measured_receive_some"), 1),
    ("exact", "64 B, send_all + receive_exact", ("measured_send_all",
                                                 "measured_receive_exact"), 1),
    ("fd1", "1 B + 1 descriptor: send, receive, close", ("measured_pass_fds",), 10),
    ("fd16", "1 B + 16 descriptors: send, receive, close", ("measured_pass_fds",), 10),
    ("async", "64 B async round trip on one io_context (start + run)", ("measured_async",), 10),
    ("async_fd1", "1 B + 1 descriptor, received asynchronously, closed (start + run)",
     ("measured_async",), 10),
]

# Modes whose reference is Boost.Asio's own asynchronous path (there is no raw one).
ASYNC_MODES = {"async", "async_fd1"}


def say(text):
    print(text, flush=True)


# ---- Running ------------------------------------------------------------------------------


def list_cases(suite):
    out = subprocess.run([suite, "--benchmark_list_tests=true"], check=True,
                         capture_output=True, text=True).stdout
    cases = []
    for line in out.splitlines():
        name = line.strip().split("/")[0]
        if name and name not in cases:
            cases.append(name)
    known = [c for c in CASE_ORDER if c in cases]
    return known + [c for c in cases if c not in known]


def run_group(suite, case, pinned, args, out_file):
    command = [suite, "--benchmark_filter=^%s/" % re.escape(case),
               "--benchmark_repetitions=%d" % repetitions_for(case, args),
               "--benchmark_report_aggregates_only=true",
               "--benchmark_min_time=%g" % min_time_for(case, args),
               "--benchmark_enable_random_interleaving=true",
               "--benchmark_color=false", "--benchmark_format=console",
               "--benchmark_out=%s" % out_file, "--benchmark_out_format=json"]
    if pinned:
        command = ["taskset", "-c", "0"] + command
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    for line in process.stdout:
        if "_median" in line:
            say("      " + re.sub(r"\s+", " ", line.strip()))
    if process.wait() != 0:
        sys.exit("report: %s failed (exit %d): %s" % (case, process.returncode,
                                                     " ".join(command)))


# The asynchronous cases' target (within 5% of Asio's time) is finer than one run's noise on
# this shared machine (±15-20% per repetition, a long tail of slow ones): they take six times
# as many repetitions (30; each group still runs in under 10 s): the standard error of a
# median, about 1.25 sigma / sqrt(n), falls from about 5.5% at 15 to about 4%. The two-CPU cases' references swing by 2-3x within
# half an hour (framing 11-34 M msg/s): they take three times as many.
REPETITION_FACTORS = {case: 6 for case in ASYNC_TIME_CASES}
REPETITION_FACTORS.update({"messages_2cpu": 3, "latency_2cpu": 3})


def repetitions_for(case, args):
    if args.quick:
        return args.repetitions
    return args.repetitions * REPETITION_FACTORS.get(case, 1)


def min_time_for(case, args):
    if args.min_time is not None:
        return args.min_time
    return 0.1 if case in TWO_THREAD_PINNED_CASES else 0.05


def run_callgrind(programs, count, work_dir):
    """Instructions per call of each measured function, per program and mode."""
    results = {}
    for name, program in programs:
        for mode, _, functions, divisor in MEASURED_MODES:
            messages = max(1, count // divisor)
            out_file = os.path.join(work_dir, "callgrind.%s.%s.out" % (name, mode))
            # LD_BIND_NOW: symbols resolve at start-up, not inside the first measured call.
            run = subprocess.run(
                ["env", "LD_BIND_NOW=1", "valgrind", "--tool=callgrind", "--toggle-collect=measured_*",
                 "--callgrind-out-file=%s" % out_file, program, str(messages), mode],
                capture_output=True, text=True)
            if run.returncode == 3:
                continue  # this path cannot do it (Asio passes no descriptors)
            if run.returncode != 0 or "verified" not in run.stdout:
                sys.exit("report: %s %s under callgrind failed:\n%s%s" %
                         (name, mode, run.stdout, run.stderr))
            annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", out_file],
                                       check=True, capture_output=True, text=True).stdout
            counts = {}
            for line in annotated.splitlines():
                match = re.match(r"^\s*([\d,]+)\s.*:(measured_\w+)\s", line)
                if match:
                    counts[match.group(2)] = int(match.group(1).replace(",", ""))
            parts = [counts.get(f, 0) / messages for f in functions]
            results[(name, mode)] = {"parts": parts, "total": sum(parts), "count": messages}
            say("      %-9s %-6s %7.1f instructions per message%s" % (
                name, mode, sum(parts),
                " (%s)" % " + ".join("%.1f" % p for p in parts) if len(parts) > 1 else ""))
    return results


# ---- Reading results ----------------------------------------------------------------------


def parse_name(run_name):
    """`case/contender/param[/manual_time...]` -> (case, contender, param)."""
    parts = run_name.split("/")
    if len(parts) < 3:
        return None
    try:
        return parts[0], parts[1], int(parts[2])
    except ValueError:
        return parts[0], parts[1], parts[2]


def load_group(path):
    """{(contender, param): {'median': {...}, 'cv': {...}}} from one JSON output file."""
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for b in data.get("benchmarks", []):
        parsed = parse_name(b.get("run_name", b["name"]))
        if parsed is None:
            continue
        _, contender, param = parsed
        aggregates = rows.setdefault((contender, param), {})
        if b.get("run_type") == "aggregate":
            aggregates[b["aggregate_name"]] = b
        else:
            aggregates.setdefault("runs", []).append(b)
    for aggregates in rows.values():
        # A single repetition has no aggregates: its one run is the median.
        if "median" not in aggregates and len(aggregates.get("runs", [])) == 1:
            aggregates["median"] = aggregates["runs"][0]
    return data.get("context", {}), rows


def metric_value(case, entry):
    metric, _, scale, _ = metric_for(case, entry)
    if metric.endswith("_time"):
        return entry[metric] * TIME_TO_NS[entry.get("time_unit", "ns")] * scale
    return entry[metric] * scale


def metric_for(case, entry=None):
    if case in CASE_METRICS:
        return CASE_METRICS[case]
    if entry is not None and "items_per_second" in entry:
        return ("items_per_second", "M items/s", 1e-6, True)
    return ("real_time", "ns", 1.0, False)


def noise(case, aggregates):
    """The coefficient of variation of the case's metric (a fraction), or None."""
    cv = aggregates.get("cv")
    if cv is None:
        return None
    value = cv.get(metric_for(case, cv)[0])
    return abs(value) if isinstance(value, (int, float)) else None


FAMILIES = ["pipe", "raw", "sockpair", "asio"]
KINDS = ["stream", "seqpacket", "dgram", "1buf", "16iov"]


def contender_order(name):
    """pipe first; then by kind (stream, seqpacket, dgram, ...); then raw, library, Asio."""
    family = next((i for i, f in enumerate(FAMILIES) if name.startswith(f)), len(FAMILIES))
    kind = next((i for i, k in enumerate(KINDS) if name.endswith("_" + k)), -1)
    return (family != 0, kind, family, name)


class Table:
    """One case's medians: contenders, params, value and noise per cell."""

    def __init__(self, case, rows):
        self.case = case
        self.contenders = []
        self.params = []
        self.cells = {}
        self.cpu_ns = {}
        self.cpu_ns_per_item = {}
        for (contender, param), aggregates in rows.items():
            if "median" not in aggregates:
                continue
            if contender not in self.contenders:
                self.contenders.append(contender)
            if param not in self.params:
                self.params.append(param)
            self.cells[(contender, param)] = (metric_value(case, aggregates["median"]),
                                              noise(case, aggregates))
            median = aggregates["median"]
            if "cpu_time" in median:
                self.cpu_ns[(contender, param)] = (
                    median["cpu_time"] * TIME_TO_NS[median.get("time_unit", "ns")])
                real_s = (median.get("real_time", 0) *
                          TIME_TO_NS[median.get("time_unit", "ns")] * 1e-9)
                items = median.get("items_per_second", 0) * real_s
                if items > 0:
                    self.cpu_ns_per_item[(contender, param)] = (
                        self.cpu_ns[(contender, param)] / items)
        self.params.sort(key=lambda p: (isinstance(p, str), p))
        self.contenders.sort(key=contender_order)
        some_entry = next(iter(rows.values()), {}).get("median")
        self.metric, self.unit, _, self.higher_is_better = metric_for(case, some_entry)

    def value(self, contender, param):
        cell = self.cells.get((contender, param))
        return cell[0] if cell else None

    def cv(self, contender, param):
        cell = self.cells.get((contender, param))
        return cell[1] if cell else None

    def baseline(self):
        if self.case.startswith("async"):
            return "asio" if "asio" in self.contenders else None
        if self.case == "receive_call":
            return "recv" if "recv" in self.contenders else None
        if "pipe" in self.contenders:
            return "pipe"
        pipes = [c for c in self.contenders if c.startswith("pipe")]
        return pipes[0] if pipes else None

    def library_pairs(self):
        """(library contender, raw socketpair contender) pairs present in the table."""
        pairs = []
        for c in self.contenders:
            if c.startswith("sockpair"):
                raw = "raw_socketpair" + c[len("sockpair"):]
                if raw in self.contenders:
                    pairs.append((c, raw))
        return pairs

    def ratio(self, contender, reference, param):
        a, b = self.value(contender, param), self.value(reference, param)
        if a is None or not b:
            return None
        return a / b

    def ratio_noise(self, contender, reference, param):
        a, b = self.cv(contender, param), self.cv(reference, param)
        if a is None or b is None:
            return None
        return a + b


# ---- Rendering ----------------------------------------------------------------------------


def fmt(value):
    if value is None:
        return "–"
    if value >= 100:
        return "{:,.0f}".format(value)
    if value >= 10:
        return "%.1f" % value
    return "%.2f" % value


def fmt_cv(cv):
    return "" if cv is None else " ±%.0f%%" % (cv * 100)


def render_table(table, title):
    baseline = table.baseline()
    pairs = table.library_pairs()
    lines = ["#### %s" % title, ""]
    direction = "higher is better" if table.higher_is_better else "lower is better"
    note = "Median of the repetitions in %s (%s), ± its coefficient of variation" % (
        table.unit, direction)
    if baseline:
        note += "; in parentheses the ratio to `%s` in the same unit" % baseline
    lines += [note + ".", ""]
    header = ["param"] + ["`%s`" % c for c in table.contenders]
    header += ["`%s` / `%s`" % pair for pair in pairs]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for param in table.params:
        row = [str(param)]
        for c in table.contenders:
            value = table.value(c, param)
            cell = fmt(value) + fmt_cv(table.cv(c, param)) if value is not None else "–"
            if baseline and c != baseline and value is not None:
                r = table.ratio(c, baseline, param)
                if r is not None:
                    cell += " (%.2f)" % r
            row.append(cell)
        for lib, raw in pairs:
            r = table.ratio(lib, raw, param)
            row.append("–" if r is None else "**%.3f**%s" % (
                r, fmt_cv(table.ratio_noise(lib, raw, param))))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    return lines


def render_callgrind(results):
    names = []
    for name, _ in results:
        if name not in names:
            names.append(name)
    lines = [
        "| what one message is | path | instructions per message | send + receive | ÷ raw | messages |",
        "|---|---|---|---|---|---|",
    ]
    for mode, label, _, _ in MEASURED_MODES:
        raw = results.get(("raw", mode))
        if mode in ASYNC_MODES:
            raw = results.get(("asio", mode))  # async: the reference is Asio's own path
        for name in names:
            r = results.get((name, mode))
            if r is None:
                continue
            ratio = "%.3f" % (r["total"] / raw["total"]) if raw else "–"
            if mode in ASYNC_MODES and raw:
                ratio += " (÷ Asio)"
            if name == "sockpair":
                ratio = "**%s**" % ratio
            split = " + ".join("%.1f" % p for p in r["parts"]) if len(r["parts"]) > 1 else "–"
            lines.append("| %s | %s | %.1f | %s | %s | %s |" % (
                label, name, r["total"], split, ratio, "{:,}".format(r["count"])))
    return lines


def plot_throughput(tables, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(case, pinned) for pinned in (False, True)
              for case in ("throughput_stream", "throughput_stream_tuned")
              if (case, pinned) in tables]
    if not panels:
        return False
    rows = 2 if any(p for _, p in panels) else 1
    fig, axes = plt.subplots(rows, 2, figsize=(12, 4.5 * rows), squeeze=False, sharey=True)
    styles = {"pipe": "o-", "raw_socketpair": "s--", "sockpair": "^-", "asio": "d:"}
    for ax_row in axes:
        for ax in ax_row:
            ax.set_visible(False)
    for case, pinned in panels:
        ax = axes[1 if pinned and rows == 2 else 0][0 if case == "throughput_stream" else 1]
        ax.set_visible(True)
        table = tables[(case, pinned)]
        for contender in table.contenders:
            xs = [p for p in table.params if table.value(contender, p) is not None]
            ys = [table.value(contender, p) for p in xs]
            ax.plot(xs, ys, styles.get(contender, ".-"), label=contender)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(table.params)
        ax.set_xticklabels([size_label(p) for p in table.params])
        ax.set_xlabel("message size")
        ax.set_ylabel("MB/s (median)")
        buffers = "1 MiB buffers" if case.endswith("tuned") else "default buffers"
        placement = "both threads on CPU 0" if pinned else "threads free"
        ax.set_title("%s, %s" % (buffers, placement))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("One-way stream throughput against message size")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def size_label(n):
    if not isinstance(n, int):
        return str(n)
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return "%d MiB" % (n >> 20)
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return "%d KiB" % (n >> 10)
    return "%d B" % n


# ---- Targets ------------------------------------------------------------------------------


def verdict(ok):
    return "**holds**" if ok else "**misses**"


def check_targets(tables, callgrind):
    """Lines saying which targets hold, from the measured numbers."""
    lines = []

    # 1. library/raw socketpair within noise on every case.
    outside = []
    total = 0
    for (case, pinned), table in tables.items():
        for lib, raw in table.library_pairs():
            for param in table.params:
                r = table.ratio(lib, raw, param)
                if r is None:
                    continue
                total += 1
                slack = max(table.ratio_noise(lib, raw, param) or 0.0, 0.02)
                if abs(r - 1.0) > slack:
                    outside.append("%s%s %s/%s: %.3f (noise ±%.0f%%)" % (
                        case, " pinned" if pinned else "", lib, param, r, slack * 100))
    lines.append("- Library ÷ raw socketpair(2) = 1.00 within noise on every case: %s "
                 "(%d of %d comparisons outside the combined coefficient of variation, "
                 "floor 2%%)%s" % (verdict(not outside), len(outside), total,
                                   ":" if outside else "."))
    lines += ["  - %s" % o for o in outside]

    # 2. instructions.
    for mode, label, _, _ in MEASURED_MODES:
        lib, raw, asio = (callgrind.get((n, mode)) for n in ("sockpair", "raw", "asio"))
        if mode in ASYNC_MODES:
            if lib and asio:
                lines.append("- Instructions, %s: library ÷ Asio = %.3f, target <= 1.00: %s." % (
                    label, lib["total"] / asio["total"], verdict(lib["total"] <= asio["total"])))
            continue
        if lib and raw:
            l_total = lib["total"]
            r_total = raw["total"]
            line = "- Instructions, %s: library ÷ raw = %.3f, target <= 1.02: %s" % (
                label, l_total / r_total, verdict(l_total / r_total <= 1.02))
            if asio:
                a_total = asio["total"]
                line += "; library < Asio (%.1f < %.1f): %s" % (l_total, a_total,
                                                                verdict(l_total < a_total))
            lines.append(line + ".")
    if any(callgrind.get(("sockpair", m)) and callgrind.get(("raw", m)) and
           callgrind[("sockpair", m)]["total"] > 1.02 * callgrind[("raw", m)]["total"]
           for m, _, _, _ in MEASURED_MODES):
        lines.append("  - Where the extra instructions go, and the fix: \"Where the instructions "
                     "go\" in [benchmarks/README.md](../benchmarks/README.md).")

    # 3. tuned stream throughput >= tuned pipe at >= 64 KiB.
    for pinned in (False, True):
        table = tables.get(("throughput_stream_tuned", pinned))
        if not table:
            continue
        for param in [p for p in table.params if isinstance(p, int) and p >= 65536]:
            for contender in ("sockpair", "raw_socketpair"):
                r = table.ratio(contender, "pipe", param)
                if r is None:
                    continue
                line = "- Tuned stream throughput >= tuned pipe(2), %s, %s, %s: %.2f x pipe: %s" % (
                    size_label(param), contender, "pinned" if pinned else "unpinned", r,
                    verdict(r >= 1.0))
                raw_r = table.ratio("raw_socketpair", "pipe", param)
                if contender == "sockpair" and r < 1.0 and raw_r is not None and raw_r < 1.0:
                    line += " (raw socketpair(2) misses too: the kernel's path, not the wrapper)"
                lines.append(line + ".")

    # 4. latency of stream and seqpacket <= 1.10 x pipe.
    for pinned in (False, True):
        table = tables.get(("latency", pinned))
        if not table:
            continue
        for contender in ("sockpair_stream", "sockpair_seqpacket"):
            for param in table.params:
                r = table.ratio(contender, "pipe", param)
                if r is None:
                    continue
                raw_r = table.ratio("raw_socketpair" + contender[len("sockpair"):], "pipe",
                                    param)
                line = ("- Round trip %s, %s B, %s: %.2f x pipe(2) (raw socketpair: %s), target "
                        "<= 1.10: %s" % (contender, param, "pinned" if pinned else "unpinned", r,
                                         "%.2f" % raw_r if raw_r else "–", verdict(r <= 1.10)))
                if r > 1.10 and raw_r is not None and raw_r > 1.10:
                    line += " (raw socketpair(2) misses too: the kernel's path, not the wrapper)"
                lines.append(line + ".")

    # 5. messages.
    for pinned in (False, True):
        table = tables.get(("messages", pinned))
        if not table:
            continue
        # The small-message targets, at 64-byte messages (larger ones are bound by copying).
        for lib, ref, target in (
                ("sockpair_framed_stream", "pipe_write_per_message", 10.0),
                ("sockpair_framed_stream", "framing_over_pipe", 1.5),
                ("sockpair_seqpacket_batched", "raw_seqpacket_send_per_message", 1.3)):
            r = table.ratio(lib, ref, 64)
            if r is not None:
                lines.append("- messages, 64 B, %s: %s ÷ %s = %.2f, target >= %.1f: %s." % (
                    "pinned" if pinned else "unpinned", lib, ref, r, target,
                    verdict(r >= target)))

    # 6. shared memory (shm_channel), against the socket contenders of the same run.
    lines += shm_targets(tables)

    # 7. asynchronous operations: no slower than Asio's own (time ratio <= 1.05).
    for case, pinned in ((c, p) for c in ASYNC_TIME_CASES for p in (False, True)):
        table = tables.get((case, pinned))
        if not table:
            continue
        for param in table.params:
            for lib, what in (("sockpair", "library"),
                              ("sockpair_refusing", "library, ends refusing descriptors")):
                r = table.ratio(lib, "asio", param)
                if r is None:
                    continue
                slower = 1.0 / r if table.higher_is_better else r
                lines.append("- %s, %s, %s (%s): %.3f x Asio's time, target <= 1.05 "
                             "(noise ±%.0f%%): %s." % (
                                 case, "pinned" if pinned else "unpinned", param, what, slower,
                                 (table.ratio_noise(lib, "asio", param) or 0.0) * 100,
                                 verdict(slower <= 1.05)))
    return lines


def shm_message_targets(table, where):
    """The 64-byte message targets of one messages table (`where` names its mode)."""
    lines = []
    if not table:
        return lines
    for shm in ("shm_channel_batched", "shm_channel"):
        for ref, target in (("sockpair_framed_stream", 4.0),
                            ("pipe_write_per_message", 100.0)):
            r = table.ratio(shm, ref, 64)
            if r is not None:
                lines.append("- %s, 64 B messages per second, %s: %.2f x %s, "
                             "target >= %.0f: %s." % (shm, where, r, ref, target,
                                                     verdict(r >= target)))
    # The ceiling: a bare ring of the same records, nothing the channel adds.
    bare = [(ref, table.ratio("bare_spsc_ring", ref, 64))
            for ref in ("sockpair_framed_stream", "pipe_write_per_message")]
    share = table.ratio("shm_channel_batched", "bare_spsc_ring", 64)
    if all(r is not None for _, r in bare) and share is not None:
        lines.append("  - the ceiling, bare_spsc_ring (no validation, no results), "
                     "%s: %s; shm_channel_batched reaches %.0f%% of it." % (
                         where, ", ".join("%.2f x %s" % (r, ref) for ref, r in bare),
                         share * 100))
    cpu = ["%s %.0f ns" % (c, table.cpu_ns_per_item[(c, 64)])
           for c in ("shm_channel_batched", "shm_channel", "bare_spsc_ring",
                     "sockpair_framed_stream", "pipe_write_per_message")
           if (c, 64) in table.cpu_ns_per_item]
    if cpu:
        lines.append("  - CPU time per 64 B message (both threads, spinning included), "
                     "%s: %s." % (where, ", ".join(cpu)))
    return lines


def shm_targets(tables):
    """The shm_channel targets: ratios within one run of each case."""
    lines = []
    for pinned in (False, True):
        where = "pinned" if pinned else "unpinned"
        for case, label in (("messages", where), ("messages_2cpu", "two CPUs")):
            if case == "messages_2cpu" and pinned:
                continue
            lines += shm_message_targets(tables.get((case, pinned)), label)
        for case in ("latency_2cpu", "latency"):
            table = tables.get((case, pinned))
            if not table:
                continue
            label = "%s, %s" % (case, where)
            for ref in ("pipe", "raw_socketpair_stream"):
                r = table.ratio(ref, "shm_spin", 64)
                if r is not None:
                    lines.append("- shm_channel spinning, 64 B round trip, %s: %.1f x faster "
                                 "than %s, target >= 10: %s." % (label, r, ref,
                                                                 verdict(r >= 10.0)))
            r = table.ratio("shm_nospin", "raw_socketpair_stream", 64)
            if r is not None:
                lines.append("- shm_channel not spinning, 64 B round trip, %s: %.2f x "
                             "raw_socketpair_stream's time, target <= 1.00: %s." % (
                                 label, r, verdict(r <= 1.0)))
            cpu = ["%s %.1f µs" % (c, table.cpu_ns[(c, 64)] / 1e3)
                   for c in ("shm_spin", "shm_nospin", "raw_socketpair_stream", "pipe")
                   if (c, 64) in table.cpu_ns]
            if cpu:
                lines.append("  - CPU time per 64 B round trip (both threads), %s: %s." % (
                    label, ", ".join(cpu)))
        table = tables.get(("transfer", pinned))
        if table:
            for shm in ("shm_spin_view", "shm_spin"):
                r = table.ratio(shm, "sockpair_stream_tuned", 1 << 20)
                limit = table.ratio(shm, "memcpy", 1 << 20)
                if r is not None:
                    lines.append("- %s, 1 MiB transfers, %s: %.2f x the tuned stream pair, "
                                 "target >= 1.5: %s (%s of memcpy's bandwidth)." % (
                                     shm, where, r, verdict(r >= 1.5),
                                     "%.0f%%" % (limit * 100) if limit else "–"))
    return lines


def headline(tables, callgrind):
    """A few lines for the README."""
    lines = []
    lib = callgrind.get(("sockpair", "exact"))
    raw = callgrind.get(("raw", "exact"))
    asio = callgrind.get(("asio", "exact"))
    if lib and raw:
        text = ("- User-space instructions per 64-byte send_all + receive_exact: library "
                "%.0f, raw send(2)/recv(2) %.0f (**%.2fx**)" % (
                    lib["total"], raw["total"], lib["total"] / raw["total"]))
        if asio:
            text += ", Boost.Asio %.0f" % asio["total"]
        lines.append(text + " (callgrind, deterministic).")
    ratios = []
    for (case, pinned), table in tables.items():
        for l, r in table.library_pairs():
            for param in table.params:
                value = table.ratio(l, r, param)
                if value is not None:
                    ratios.append(value)
    if ratios:
        ratios.sort()
        lines.append("- Library ÷ raw socketpair(2), every timed case: median %.3f, range "
                     "%.2f–%.2f." % (ratios[len(ratios) // 2], ratios[0], ratios[-1]))
    for pinned in (True, False):
        table = tables.get(("throughput_stream_tuned", pinned))
        if table and table.value("sockpair", 1 << 20) and table.value("pipe", 1 << 20):
            lines.append("- Throughput at 1 MiB messages with 1 MiB buffers (%s): library "
                         "%s MB/s, pipe(2) %s MB/s (**%.2fx**)." % (
                             "one CPU" if pinned else "two CPUs",
                             fmt(table.value("sockpair", 1 << 20)),
                             fmt(table.value("pipe", 1 << 20)),
                             table.ratio("sockpair", "pipe", 1 << 20)))
            break
    for pinned in (True, False):
        table = tables.get(("latency", pinned))
        if table and table.value("pipe", 1) and table.value("sockpair_stream", 1):
            lines.append("- Round trip of 1 byte (%s): pipe(2) %s µs, library stream %s µs "
                         "(%.2fx), seqpacket %s µs." % (
                             "one CPU" if pinned else "two CPUs", fmt(table.value("pipe", 1)),
                             fmt(table.value("sockpair_stream", 1)),
                             table.ratio("sockpair_stream", "pipe", 1),
                             fmt(table.value("sockpair_seqpacket", 1))))
            break
    return lines


# ---- Machine ------------------------------------------------------------------------------


def machine(suite):
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    compiler = "unknown"
    comment = subprocess.run(["readelf", "-p", ".comment", suite], capture_output=True,
                             text=True).stdout
    for line in comment.splitlines():
        match = re.search(r"\]\s+(GCC:.*|clang version.*|.*clang.*)$", line)
        if match:
            compiler = match.group(1).strip()
            break
    versions = []
    for package in ("libbenchmark-dev", "libboost1.81-dev", "valgrind"):
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                             capture_output=True, text=True).stdout.strip()
        if out:
            versions.append("%s %s" % (package, out))
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "compiler": compiler,
        "packages": ", ".join(versions),
    }


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---- Main ---------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", required=True, help="the Google Benchmark suite binary")
    parser.add_argument("--instructions", action="append", default=[], metavar="NAME=PATH",
                        help="an instruction-count program (raw, sockpair, asio)")
    parser.add_argument("--out-dir", default="docs", help="where the report goes (docs)")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds per repetition (default 0.1 for two-thread cases, "
                        "0.05 otherwise)")
    parser.add_argument("--messages", type=int, default=100000,
                        help="messages per callgrind program (100000)")
    parser.add_argument("--only", default=None, help="run only cases matching this regex")
    parser.add_argument("--no-pinned", action="store_true", help="skip the pinned runs")
    parser.add_argument("--quick", action="store_true",
                        help="pipeline check: 1 repetition, min time 0.01 s, 1000 messages")
    parser.add_argument("--work-dir", default=None,
                        help="keep the raw JSON and callgrind files here")
    parser.add_argument("--from", dest="from_dir", default=None,
                        help="render from a previous --work-dir without running anything")
    args = parser.parse_args()
    if args.quick:
        args.repetitions, args.min_time, args.messages = 1, 0.01, 1000

    work_dir = args.from_dir or args.work_dir or tempfile.mkdtemp(prefix="sockpair-bench-")
    os.makedirs(work_dir, exist_ok=True)
    programs = [tuple(p.split("=", 1)) for p in args.instructions]
    state_file = os.path.join(work_dir, "run.json")

    if args.from_dir:
        with open(state_file) as f:
            state = json.load(f)
    else:
        cases = list_cases(args.suite)
        if args.only:
            cases = [c for c in cases if re.search(args.only, c)]
        groups = [(c, False) for c in cases]
        if not args.no_pinned:
            groups += [(c, True) for c in cases if c in PINNED_CASES]
        groups.sort(key=lambda g: (cases.index(g[0]), g[1]))
        steps = len(groups) + (1 if programs else 0)
        state = {
            "machine": machine(args.suite),
            "started": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M UTC"),
            "load_before": loadavg(),
            "repetitions": args.repetitions,
            "repetitions_by_case": {c: repetitions_for(c, args) for c in cases
                                    if repetitions_for(c, args) != args.repetitions},
            "min_time": {c: min_time_for(c, args) for c in cases},
            "messages": args.messages,
            "groups": [],
            "callgrind": [],
        }
        say("report: %d steps; raw results in %s" % (steps, work_dir))
        for i, (case, pinned) in enumerate(groups, 1):
            say("[%d/%d] %s%s (%d repetitions, min time %g s)" % (
                i, steps, case, ", pinned to CPU 0" if pinned else "", repetitions_for(case, args),
                min_time_for(case, args)))
            out_file = os.path.join(work_dir, "%s%s.json" % (case, ".pinned" if pinned else ""))
            step_start = time.monotonic()
            run_group(args.suite, case, pinned, args, out_file)
            say("      (%.0f s)" % (time.monotonic() - step_start))
            state["groups"].append({"case": case, "pinned": pinned, "file": out_file})
        if programs:
            if shutil.which("valgrind") is None:
                sys.exit("report: valgrind is missing (tools/setup installs it)")
            say("[%d/%d] instructions per message under callgrind (%d messages of 64 B)" % (
                steps, steps, args.messages))
            step_start = time.monotonic()
            counts = run_callgrind(programs, args.messages, work_dir)
            say("      (%.0f s)" % (time.monotonic() - step_start))
            state["callgrind"] = [{"path": n, "mode": m, **v} for (n, m), v in counts.items()]
        state["load_after"] = loadavg()
        with open(state_file, "w") as f:
            json.dump(state, f, indent=1)

    tables = {}
    context = {}
    for group in state["groups"]:
        file = group["file"]
        if args.from_dir:
            file = os.path.join(work_dir, os.path.basename(file))
        context, rows = load_group(file)
        if rows:
            tables[(group["case"], group["pinned"])] = Table(group["case"], rows)
    callgrind = {(c["path"], c["mode"]): c for c in state["callgrind"]}

    os.makedirs(args.out_dir, exist_ok=True)
    plot_path = os.path.join(args.out_dir, "benchmarks-throughput.png")
    plotted = plot_throughput(tables, plot_path)
    document = render_document(state, tables, callgrind, context, plotted)
    doc_path = os.path.join(args.out_dir, "benchmarks.md")
    with open(doc_path, "w") as f:
        f.write(document)
    say("report: wrote %s%s" % (doc_path, " and " + plot_path if plotted else ""))
    say("")
    say("Headline (for the README):")
    for line in headline(tables, callgrind):
        say(line)


def render_document(state, tables, callgrind, context, plotted):
    m = state["machine"]
    lines = [
        "# Benchmarks: socketpair against raw pipe(2), raw socketpair(2) and Boost.Asio",
        "",
        "Generated by `tools/report` (`bazel run -c opt //benchmarks:report`); do not edit by "
        "hand. What each case measures, and how to run one: "
        "[benchmarks/README.md](../benchmarks/README.md).",
        "",
        "## Machine and run",
        "",
        "| | |",
        "|---|---|",
        "| CPU | %s, %s logical CPUs |" % (m["cpu"], m["cores"]),
        "| kernel | %s |" % m["kernel"],
        "| compiler | %s, `-c opt` (-O2 -DNDEBUG) |" % m["compiler"],
        "| packages | %s |" % m["packages"],
        "| date | %s |" % state["started"],
        "| load average (1, 5, 15 min) | %s before, %s after |" % (
            state["load_before"], state.get("load_after", "?")),
        "| repetitions | %d per benchmark%s, medians shown; min time per repetition: %s |" % (
            state["repetitions"],
            "".join(" (%s: %d)" % kv for kv in state.get("repetitions_by_case", {}).items()),
            ", ".join("%s %g s" % kv for kv in state["min_time"].items())),
        "",
    ]
    if context.get("library_build_type") == "debug":
        lines += ["Debian's libbenchmark reports itself built as debug; that concerns Google "
                  "Benchmark's own bookkeeping, outside the timed calls.", ""]
    lines += [
        "The machine is shared: a load average near or above the number of CPUs means "
        "other work competed for them, and the numbers below swing more than their ± says. "
        "Re-run `tools/report` on a quiet machine for numbers to quote.",
        "",
        "## Headline",
        "",
    ]
    lines += headline(tables, callgrind) + [""]
    lines += ["## Targets", "",
              "Reported, not asserted (the machine is shared and noisy).", ""]
    lines += check_targets(tables, callgrind) + [""]
    lines += [
        "Why a target can miss although the wrapper costs nothing: the library makes the "
        "same system calls as the raw socketpair(2) column, so where the raw column misses "
        "a ratio to pipe(2) by as much as the library does, the difference is the kernel's "
        "AF_UNIX path (an skb allocated and queued per send, socket locking and memory "
        "accounting) against the pipe's page ring, not the wrapper. The library ÷ raw "
        "columns and the instruction counts are the wrapper's own cost.",
        "",
        "## Zero overhead, counted: instructions per message",
        "",
        "`valgrind --tool=callgrind` counts user-space instructions only (the kernel's work "
        "is the same for all three paths and not counted), deterministically. Each program "
        "(benchmarks/instructions/) sends %d messages of 64 bytes over a stream pair on one "
        "thread and receives each on the other end (and a tenth as many 1-byte messages carrying "
        "descriptors, which are closed on arrival); only the calls that move the bytes are "
        "counted (`--toggle-collect=measured_*`), including the libc wrappers they call. The "
        "async rows (benchmarks/instructions/async_*.cpp) count starting the exchange and "
        "running its io_context on one thread, a tenth as many steps: Asio's scheduler and "
        "reactor, the operations and the handlers, whose own checks are the same code on "
        "both paths; their reference is Asio's own asynchronous path." %
        state["messages"],
        "",
    ]
    if callgrind:
        lines += render_callgrind(callgrind) + [""]
    else:
        lines += ["(not run)", ""]
    lines += ["## Timed cases", ""]
    if plotted:
        lines += ["![Throughput against message size](benchmarks-throughput.png)", ""]
    seen = []
    for case, _ in tables:
        if case not in seen:
            seen.append(case)
    for case in seen:
        lines += ["### %s" % case, ""]
        if case in CASE_DESCRIPTIONS:
            lines += [CASE_DESCRIPTIONS[case], ""]
        for pinned in (False, True):
            table = tables.get((case, pinned))
            if table:
                if case.endswith("_2cpu"):
                    # These cases bind their own threads (one to CPU 0, one to CPU 1).
                    placement = ("the whole run under `taskset -c 0`" if pinned else
                                 "each thread bound by the case itself, one to CPU 0, one to CPU 1")
                else:
                    placement = ("pinned, every thread on CPU 0 (`taskset -c 0`)" if pinned else
                                 "unpinned, threads free to run on any CPU")
                lines += render_table(table, "%s: %s" % (case, placement))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
