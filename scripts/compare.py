#!/usr/bin/env python3
"""Fan-out latency of ClusterSim variants against the baselines beside the
project (raw libzmq in C, Redis pub/sub), in one sitting, as ratios.

    scripts/compare.py READERS RATE SECONDS [ROUNDS] [--variant SPEC ...] [--baseline c|redis|floor|floor-uring ...] [--hwm N]

Each round runs every ClusterSim variant once (a cli-only topology with a
140-byte payload and no history, so a frame is about the baselines' 272
bytes, measured after a 2 s warm-up as the baselines measure only once every
reader is connected) and every baseline once, the baselines last in odd
rounds and first in even ones, and the variants in the order given in odd
rounds and the other way round in even ones, so that a machine that drifts
over a sitting favours no side. Every run is summarised as the baselines summarise theirs:
the median of the readers' p50, the max of the readers' p99 and max, the
total lost (and skipped). The machine is noisy: compare within a round,
over several rounds.

A variant is LABEL[:KEY=VALUE,...]. Keys are paths into the topology
(`writer.sndhwm=1000`, `readers[0].rcvhwm=1000`, `cpuPinning=spread`) with
JSON values, plus `bin=DIR`, a directory holding another build's
`orchestrator` and `cluster-node` (to compare two builds in one sitting).
Default: one variant `off` (cpuPinning off, this build).

--hwm N runs every system with the same high-water marks: ClusterSim's
writer.sndhwm and readers[0].rcvhwm (unless a variant sets them) and the C
baseline's ZMQ_SNDHWM and ZMQ_RCVHWM (its zfan built from --baseline-dir and
run here with --sndhwm/--rcvhwm, as run-baseline.sh runs it otherwise).
Without it each runs with its own defaults (libzmq's: 1 000 each way). Redis
has no high-water mark (its pub/sub output buffer limit is in bytes).

--baseline floor and --baseline floor-uring run the project's own
scripts/fanout-floor.sh: the same fan-out with no messaging library, a
frame every FLOOR_BATCH_US µs (2 000) written to each reader with send(),
or all of a frame's writes submitted in one io_uring call. They show what is
left for a publisher to gain, and where.

--reader-nice N runs every system's subscribers at nice value N:
ClusterSim's readers[0].nice (unless a variant sets it), the baselines'
reader processes reniced, every thread of each, as they appear (polled every
5 ms until all are; each baseline row says how many processes were). --writer-nice N does
the same for the fan-out side: ClusterSim's writer.nice, the baselines'
publishers and redis-server. --reader-scheduling batch puts every system's
subscribers under SCHED_BATCH (readers[0].scheduling, the same renicing
for the baselines). On a machine whose few CPUs carry the subscribers as
well, each keeps the subscribers from taking the CPU of the side that is
writing to them, in all the systems alike (docs/architecture.md,
"Decisions").

Each run's line also gives the CPU spent per million deliveries: the host's
for every system (every process's user and system time, read from each
process every second by a thread under SCHED_IDLE, kernel threads included: everything the machine ran,
so run nothing else beside it; not /proc/stat's busy time, which is
sampled at the timer tick and misses periodic work; over ClusterSim's
measured phase, whose deliveries are counted, and over a baseline's whole
run but its compiling, as a baseline counts every delivery), and for ClusterSim its writer's and readers'
own (from report.json), with the versions a batching writer put in a frame. A writer that made fewer
than 95 % of the versions asked (it fell behind) is said on its line and
under the medians: its readers' figures are then for a lighter load.

The last lines give, per variant and baseline, the median over the rounds of
the per-round ratios, how many rounds were within --within (1.2) on both p50
and p99, how many had a p99 at or below the baseline's, and the ratio of the
medians; and, for each pair of variants, the same with the first variant as
the reference. Each run's line gives the host's steal time over it.

    scripts/compare.py --security SECONDS [ROUNDS] [--workload READERSxRATE ...]

measures the cost of CURVE instead (docs/security.md): each round runs every
workload (default 100x1000 and 10x10000) without and with `"security":
{"mode": "curve"}`, plain first in odd rounds and CURVE first in even ones,
and ends with CURVE's median ratios to plain, the medians, the fast readers'
loss and the writer's CPU. `scripts/compare.py --security --help` says more.
"""
import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def cpu_times():
    """(steal, total) clock ticks from /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    values = list(map(int, fields))
    return values[7], sum(values)


def steal_since(before):
    s0, t0 = before
    s1, t1 = cpu_times()
    return 100.0 * (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0


def process_cpu_ticks():
    """Every process's name and CPU time so far (user + system, clock ticks), by pid."""
    ticks = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        ticks[pid] = (stat[stat.index("(") + 1:stat.rindex(")")], int(fields[11]) + int(fields[12]))
    return ticks


# What the baselines' scripts run to build their programs before they measure.
COMPILERS = {"gcc", "cc", "cc1", "as", "ld", "collect2", "x86_64-linux-gn"}


class HostCPU:
    """The CPU time every process on the machine spent during a run, kernel
    threads (softirq work) included, from each process's own accounting.

    /proc/stat's busy time would be simpler, but it is sampled at the
    timer tick: work that wakes on a fixed period (a writer sending every 2
    ms) can fall between ticks, and the same run read 0.13 to 2.1 s per
    million deliveries from it. A process's user and system time add up its
    scheduled time exactly. Every process is read every `interval` s (by a
    thread under SCHED_IDLE, which takes no CPU another wants) and at the end; one that exits between two readings loses what it spent
    since the last (the systems here end their readers after the writer,
    when there is little left to lose). Processes already running count
    only what they spent during the run; the compilers a baseline's script
    runs to build its program are left out."""

    def __init__(self, interval=1.0):
        self.interval = interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.samples = []

    def __enter__(self):
        self.samples.append((time.time_ns(), process_cpu_ticks()))
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.samples.append((time.time_ns(), process_cpu_ticks()))

    def loop(self):
        # A scan of /proc takes a few ms of CPU; at the default policy it
        # would delay readers, every reading, by as much: a p99 of its own.
        # Under SCHED_IDLE it runs only where a CPU has nothing else to do.
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
        while not self.stop.wait(self.interval):
            self.samples.append((time.time_ns(), process_cpu_ticks()))

    def seconds(self):
        """Over the whole run."""
        first, last = self.samples[0][1], {}
        for _, ticks in self.samples:
            last.update(ticks)
        return sum(t - first.get(pid, ("", 0))[1] for pid, (comm, t) in last.items()
                   if comm not in COMPILERS) / os.sysconf("SC_CLK_TCK")

    def seconds_between(self, start_ns, end_ns):
        """Over the wall-clock span given (ClusterSim's measured phase, not
        its launch and warm-up), from the readings inside it, scaled to the
        whole span; None when fewer than two readings fall inside."""
        inside = [s for s in self.samples if start_ns <= s[0] <= end_ns]
        if len(inside) < 2:
            return None
        (t0, a), (t1, b) = inside[0], inside[-1]
        spent = sum(t - a.get(pid, ("", 0))[1] for pid, (comm, t) in b.items()) / os.sysconf("SC_CLK_TCK")
        return spent * (end_ns - start_ns) / (t1 - t0)


def per_million(cpu_seconds, deliveries):
    return cpu_seconds / (deliveries / 1e6) if deliveries > 0 else float("nan")


def set_path(doc, path, value):
    """Sets `a.b[0].c` in a JSON document to `value`."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    node = doc
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        key = int(part[1:-1]) if part.startswith("[") else part
        if last:
            node[key] = value
        else:
            if isinstance(key, str) and not isinstance(node.get(key), (dict, list)):
                node[key] = {}   # writer.batch.maxDelay=1ms with no writer.batch yet
            node = node[key]


def parse_variant(spec):
    label, _, rest = spec.partition(":")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", label):
        raise SystemExit(f"compare: variant {spec!r}: the label must be letters, digits, '.', '_' or '-'")
    settings, bin_dir = {}, None
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"compare: variant {spec!r}: {item!r} is not KEY=VALUE")
        if key == "bin":
            bin_dir = value
            continue
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return {"label": label, "settings": settings, "bin": bin_dir}


def topology(variant, readers, rate, secs, hwm=None, scheduling=None):
    t = {"name": f"compare-{readers}-{variant['label']}", "duration": f"{secs}s", "warmup": "2s", "cpuPinning": "off",
         "writer": {"rate": rate, "payloadBytes": 140, "historyLimit": 0},
         "readers": [{"role": "cli", "count": readers}]}
    if hwm is not None:
        t["writer"]["sndhwm"] = hwm
        t["readers"][0]["rcvhwm"] = hwm
    scheduling = scheduling or {}
    if scheduling.get("reader_nice") is not None:
        t["readers"][0]["nice"] = scheduling["reader_nice"]
    if scheduling.get("writer_nice") is not None:
        t["writer"]["nice"] = scheduling["writer_nice"]
    if scheduling.get("reader_batch"):
        t["readers"][0]["scheduling"] = "batch"
    if scheduling.get("writer_batch"):
        t["writer"]["scheduling"] = "batch"
    for key, value in variant["settings"].items():
        set_path(t, key, value)
    return t


def build_release():
    out = subprocess.run([os.path.join(ROOT, "scripts", "build-release.sh")], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def run_clustersim(variant, work, round_no, default_bin):
    bin_dir = variant["bin"] or default_bin
    path = os.path.join(work, variant["label"] + ".json")
    out = os.path.join(work, "runs-" + variant["label"])
    before = cpu_times()
    with HostCPU() as host:
        subprocess.run([os.path.join(bin_dir, "orchestrator"), "run", path, "--out", out, "--quiet"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    steal = steal_since(before)
    runs = sorted((os.path.join(out, d) for d in os.listdir(out)), key=os.path.getmtime)
    report = json.load(open(os.path.join(runs[-1], "report.json")))
    readers = [n for n in report["nodes"] if n["role"] == "cli"]
    row = {"system": variant["label"], "kind": "clustersim", "round": round_no, "steal": steal,
           "readers": len(readers),
           "p50_us": statistics.median(n["latency"]["p50Us"] for n in readers),
           "p99_us": max(n["latency"]["p99Us"] for n in readers),
           "max_us": max(n["latency"]["maxUs"] for n in readers),
           "lost": sum(n["counters"].get("lost", 0) for n in readers),
           "skipped": sum(n["counters"].get("skipped", 0) for n in readers)}
    writer = next((n for n in report["nodes"] if n["role"] == "writer"), None)
    delivered = sum(n["counters"].get("received", 0) for n in readers)
    secs = report["durationSeconds"]
    start = report.get("startedWallNs", 0)
    host_cpu = host.seconds_between(start, start + int(secs * 1e9)) if start else None
    row["host_cpu_per_m"] = per_million(host_cpu, delivered) if host_cpu is not None else float("nan")
    if writer and writer.get("resources"):
        row["writer_cpu"] = writer["resources"]["meanCpuPercent"]
        row["writer_cpu_per_m"] = per_million(writer["resources"]["meanCpuPercent"] / 100 * secs, delivered)
    if all(n.get("resources") for n in readers):
        row["readers_cpu_per_m"] = per_million(sum(n["resources"]["meanCpuPercent"] for n in readers) / 100 * secs, delivered)
    w = report["writer"]
    if w.get("rateAsked"):
        row["rate_share"] = w["rateAchieved"] / w["rateAsked"]
    batching = report["writer"].get("batching")
    if batching and batching["frames"]:
        row["versions_per_frame"] = batching["versions"] / batching["frames"]
    shutil.rmtree(runs[-1], ignore_errors=True)
    return row


BASELINE_SCRIPTS = {"c": "run-baseline.sh", "redis": "run-redis-baseline.sh"}
# The floor, a fan-out with no messaging library (scripts/fanout-floor.sh):
# the project's own, not beside it; its batch is FLOOR_BATCH_US (2 000 µs).
FLOORS = {"floor": "send", "floor-uring": "uring"}


def baseline_command(name, baseline_dir):
    if name in FLOORS:
        return os.path.join(ROOT, "scripts", "fanout-floor.sh"), dict(os.environ, FLOOR_SEND=FLOORS[name])
    return os.path.join(baseline_dir, BASELINE_SCRIPTS[name]), None


class Renicer:
    """Gives the baselines' processes, every thread of each, a nice value or
    the batch scheduling policy as they appear, until stopped: `zfan|rfan|fanout-floor
    reader ...` the readers' settings, `zfan|rfan|fanout-floor writer ...` and
    redis-server the writer's. A setting of None leaves it as it is. It stops
    looking once `expected` processes are set, so that its scans of /proc
    take no CPU from the measured run (they start before it)."""

    def __init__(self, expected, reader_nice=None, writer_nice=None, reader_batch=False, writer_batch=False):
        self.reader = (reader_nice, reader_batch)
        self.writer = (writer_nice, writer_batch)
        self.expected = expected
        self.done = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def loop(self):
        while not self.stop.is_set() and len(self.done) < self.expected:
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or pid in self.done:
                    continue
                try:
                    with open(f"/proc/{pid}/comm") as f:
                        comm = f.read().strip()   # redis-server rewrites its command line, not its name
                    if comm not in ("zfan", "rfan", "fanout-floor", "redis-server"):
                        continue
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        args = f.read().split(b"\0")
                    nice, batch = self.settings_for(comm, args[1] if len(args) > 1 else b"")
                    if nice is None and not batch:
                        continue
                    for tid in os.listdir(f"/proc/{pid}/task"):
                        if nice is not None:
                            os.setpriority(os.PRIO_PROCESS, int(tid), nice)
                        if batch:
                            os.sched_setscheduler(int(tid), os.SCHED_BATCH, os.sched_param(0))
                    self.done.add(pid)
                except OSError:
                    continue
            time.sleep(0.005)

    def settings_for(self, program, first_argument):
        if program in ("zfan", "rfan", "fanout-floor"):
            return {b"reader": self.reader, b"writer": self.writer}.get(first_argument, (None, False))
        return self.writer if program == "redis-server" else (None, False)


def run_baseline(name, baseline_dir, readers, rate, secs, round_no, hwm=None, zfan=None, scheduling=None):
    port = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "free-port-pair.py")],
                          check=True, capture_output=True, text=True).stdout.strip()
    before = cpu_times()
    renicer = None
    if scheduling:
        readers_set = scheduling.get("reader_nice") is not None or scheduling.get("reader_batch")
        writers_set = scheduling.get("writer_nice") is not None or scheduling.get("writer_batch")
        # The subscribers; the publisher, and for Redis its server.
        expected = (readers if readers_set else 0) + ((2 if name == "redis" else 1) if writers_set else 0)
        renicer = Renicer(expected, **scheduling)
    with renicer or contextlib.nullcontext(), HostCPU() as host:
        if name == "c" and hwm is not None:
            row = run_zfan(zfan, readers, rate, secs, int(port), hwm)
        else:
            script, env = baseline_command(name, baseline_dir)
            out = subprocess.run([script, str(readers), str(rate), str(secs), port],
                                 check=True, capture_output=True, text=True, env=env).stdout.strip().splitlines()[-1]
            row = json.loads(out)
    steal, host_cpu = steal_since(before), host.seconds()
    row.update(system=name, kind="baseline", round=round_no, steal=steal, skipped=0,
               host_cpu_per_m=per_million(host_cpu, readers * rate * secs - row["lost"]))
    if renicer:
        row["reniced"] = len(renicer.done)
    return row


def build_zfan(baseline_dir, work):
    """The C baseline's program, built from its source beside the project (as run-baseline.sh builds it)."""
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libzmq"], check=True, capture_output=True, text=True).stdout.split()
    binary = os.path.join(work, "zfan")
    subprocess.run(["gcc", "-O2", "-o", binary, os.path.join(baseline_dir, "zfan.c")] + flags, check=True)
    return binary


def run_zfan(binary, readers, rate, secs, port, hwm):
    """The C baseline with both high-water marks set, summarised as run-baseline.sh summarises it."""
    ep, ctl = f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port + 1}"
    with tempfile.TemporaryDirectory(prefix="zfan-") as work:
        out = os.path.join(work, "out.jsonl")
        procs = [subprocess.Popen([binary, "reader", "--ep", ep, "--ctl", ctl, "--id", str(i), "--out", out,
                                   "--deadline", str(secs + 60), "--rcvhwm", str(hwm)]) for i in range(1, readers + 1)]
        try:
            subprocess.run([binary, "writer", "--ep", ep, "--ctl", ctl, "--readers", str(readers), "--rate", str(rate),
                            "--duration", str(secs), "--out", out, "--sndhwm", str(hwm)], check=True)
            for p in procs:
                p.wait(timeout=secs + 90)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        rows = [json.loads(line) for line in open(out)]
    rs = [r for r in rows if r.get("role") == "reader"]
    return {"system": "raw-libzmq-c", "readers": len(rs), "rate": rate,
            "p50_us": statistics.median(r["p50_us"] for r in rs), "p99_us": max(r["p99_us"] for r in rs),
            "max_us": max(r["max_us"] for r in rs), "lost": sum(r["drops"] for r in rs), "hwm": hwm}


def fmt_cpu(r):
    """CPU seconds per million deliveries: the host's, and ClusterSim's writer's and readers' own."""
    text = f"  cpu/M: host {r['host_cpu_per_m']:.2f} s"
    if "writer_cpu_per_m" in r:
        text += f", writer {r['writer_cpu_per_m']:.2f} s"
    if "readers_cpu_per_m" in r:
        text += f", readers {r['readers_cpu_per_m']:.2f} s"
    if "versions_per_frame" in r:
        text += f"; {r['versions_per_frame']:.1f} versions a frame"
    return text


def fmt_run(r, ref=None):
    text = (f"  {r['system']:>10}: p50 {r['p50_us']:8.0f} µs  p99 {r['p99_us']:9.0f} µs  lost {r['lost']:>9}"
            f"  skipped {r.get('skipped', 0):>8}  (steal {r['steal']:.1f} %)")
    if ref:
        ratio = lambda k: r[k] / ref[k] if ref[k] else float("inf")
        text += f"  | vs {ref['system']}: p50 {ratio('p50_us'):.2f} p99 {ratio('p99_us'):.2f}"
    if "reniced" in r:
        text += f"  (processes reniced {r['reniced']})"
    if r.get("rate_share", 1) < 0.95:
        text += f"  WRITER AT {100 * r['rate_share']:.1f} % OF ITS RATE"
    return text + fmt_cpu(r)


def write_rows(path, rows):
    """Every run's row, one JSON object per line (--json)."""
    if path:
        with open(path, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


def summary(rows, a, b, within):
    """Lines comparing system `a` with reference `b` over the rounds both ran in."""
    ra = {r["round"]: r for r in rows if r["system"] == a}
    rb = {r["round"]: r for r in rows if r["system"] == b}
    rounds = sorted(set(ra) & set(rb))
    if not rounds:
        return []
    ratios = [(ra[k]["p50_us"] / rb[k]["p50_us"], ra[k]["p99_us"] / rb[k]["p99_us"]) for k in rounds]
    inside = sum(1 for x, y in ratios if x <= within and y <= within)
    lower = sum(1 for k in rounds if ra[k]["p99_us"] <= rb[k]["p99_us"])
    med = statistics.median
    a50, a99 = med(ra[k]["p50_us"] for k in rounds), med(ra[k]["p99_us"] for k in rounds)
    b50, b99 = med(rb[k]["p50_us"] for k in rounds), med(rb[k]["p99_us"] for k in rounds)
    return [f"{a} vs {b} over {len(rounds)} rounds: median ratio p50 {med(x for x, _ in ratios):.2f}"
            f" p99 {med(y for _, y in ratios):.2f}; both within {within}x in {inside} of {len(rounds)};"
            f" p99 at or below {b}'s in {lower} of {len(rounds)}",
            f"  medians: {a} p50 {a50:.0f} µs p99 {a99:.0f} µs lost {sum(ra[k]['lost'] for k in rounds)}"
            f" skipped {sum(ra[k].get('skipped', 0) for k in rounds)};"
            f" {b} p50 {b50:.0f} µs p99 {b99:.0f} µs lost {sum(rb[k]['lost'] for k in rounds)};"
            f" ratio of medians p50 {a50 / b50:.2f} p99 {a99 / b99:.2f}",
            f"  host CPU per million deliveries, median: {a} {med(ra[k]['host_cpu_per_m'] for k in rounds):.2f} s,"
            f" {b} {med(rb[k]['host_cpu_per_m'] for k in rounds):.2f} s"] + short_of_rate(a, ra, rounds) + short_of_rate(b, rb, rounds)


def short_of_rate(system, rows, rounds):
    """A line when the system's writer made fewer than 95 % of the versions
    asked in some round: its readers' figures there are for a lighter load."""
    short = [k for k in rounds if rows[k].get("rate_share", 1) < 0.95]
    if not short:
        return []
    return [f"  NOTE: {system}'s writer made fewer than 95 % of the versions asked in {len(short)} of {len(rounds)} rounds"
            f" (down to {100 * min(rows[k]['rate_share'] for k in short):.1f} %): its figures there are for a lighter load"]


SECURITY_HELP = """The cost of CURVE: each round runs every workload without and with
`"security": {"mode": "curve"}` (plain first in odd rounds, CURVE first in
even ones), on the same cli-only topology as the baseline comparison, and
ends with, per workload, CURVE's median per-round ratio to plain (p50, p99),
the medians of both, the fast readers' loss, the writer's CPU, and whether
the target (both ratios within --within, default 1.3; no loss) was met."""


def security_main(argv):
    p = argparse.ArgumentParser(prog="compare.py --security", description=SECURITY_HELP)
    p.add_argument("seconds", type=int)
    p.add_argument("rounds", type=int, nargs="?", default=3)
    p.add_argument("--workload", action="append", metavar="READERSxRATE",
                   help="readers and messages per second, e.g. 100x1000 (repeat); default: 100x1000 and 10x10000")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a topology setting for both modes, as in --variant (e.g. cpuPinning=spread)")
    p.add_argument("--curve-set", action="append", default=[], metavar="KEY=VALUE",
                   help="a topology setting for the CURVE runs only (e.g. writer.ioThreads=2: what CURVE costs when the "
                        "writer is given a second I/O thread for it)")
    p.add_argument("--within", type=float, default=1.3, help="the target ratio to plain (default 1.3)")
    p.add_argument("--json", metavar="FILE", help="also write every run's row here, one JSON object per line")
    a = p.parse_args(argv)
    workloads = []
    for w in a.workload or ["100x1000", "10x10000"]:
        m = re.fullmatch(r"(\d+)x(\d+(?:\.\d+)?)", w)
        if not m:
            raise SystemExit(f"compare: --workload {w!r}: expected READERSxRATE, e.g. 100x1000")
        workloads.append((int(m.group(1)), float(m.group(2))))
    extra = parse_variant("x:" + ",".join(a.set))["settings"]
    curve_extra = parse_variant("x:" + ",".join(a.curve_set))["settings"]
    default_bin = build_release()
    rows = []
    with tempfile.TemporaryDirectory(prefix="compare-security-") as work:
        pairs = []
        for readers, rate in workloads:
            tag = f"{readers}x{rate:g}"
            modes = []
            for mode in ("plain", "curve"):
                v = {"label": f"{mode}-{tag}", "settings": dict(extra), "bin": None}
                if mode == "curve":
                    v["settings"]["security"] = {"mode": "curve"}
                    v["settings"].update(curve_extra)
                with open(os.path.join(work, v["label"] + ".json"), "w") as f:
                    json.dump(topology(v, readers, rate, a.seconds), f)
                modes.append(v)
            pairs.append((readers, rate, modes))
        for round_no in range(1, a.rounds + 1):
            for readers, rate, modes in pairs:
                order = modes if round_no % 2 == 1 else modes[::-1]
                got = [run_clustersim(v, work, round_no, default_bin) for v in order]
                rows += got
                plain = next(r for r in got if r["system"].startswith("plain"))
                print(f"round {round_no} ({readers} readers x {rate:g}/s, {a.seconds} s, {order[0]['label'].split('-')[0]} first):")
                for r in sorted(got, key=lambda r: r is not plain):
                    print(fmt_run(r, plain if r is not plain else None)
                          + (f"  writer CPU {r['writer_cpu']:.1f} %" if "writer_cpu" in r else ""))
                sys.stdout.flush()
    write_rows(a.json, rows)
    print()
    med = statistics.median
    for readers, rate, modes in pairs:
        plain, curve = modes[0]["label"], modes[1]["label"]
        print("\n".join(summary(rows, curve, plain, a.within)))
        pr = {r["round"]: r for r in rows if r["system"] == plain}
        cr = {r["round"]: r for r in rows if r["system"] == curve}
        rounds = sorted(set(pr) & set(cr))
        r50 = med(cr[k]["p50_us"] / pr[k]["p50_us"] for k in rounds)
        r99 = med(cr[k]["p99_us"] / pr[k]["p99_us"] for k in rounds)
        lost = sum(cr[k]["lost"] for k in rounds)
        cpu = [(pr[k].get("writer_cpu"), cr[k].get("writer_cpu")) for k in rounds]
        cpu = [c for c in cpu if None not in c]
        if cpu:
            print(f"  writer CPU: median plain {med(c[0] for c in cpu):.1f} %, curve {med(c[1] for c in cpu):.1f} %")
        met = r50 <= a.within and r99 <= a.within and lost == 0
        print(f"  target (CURVE p50 and p99 within {a.within}x of plain, no loss): {'met' if met else 'NOT met'}"
              f" (p50 {r50:.2f}, p99 {r99:.2f}, lost {lost})")


def main():
    if "--security" in sys.argv[1:]:
        return security_main([x for x in sys.argv[1:] if x != "--security"])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("readers", type=int)
    p.add_argument("rate", type=float)
    p.add_argument("seconds", type=int)
    p.add_argument("rounds", type=int, nargs="?", default=3)
    p.add_argument("--variant", action="append", default=[], metavar="SPEC",
                   help="a ClusterSim variant LABEL[:KEY=VALUE,...] (repeat); default: off")
    p.add_argument("--baseline", action="append", choices=sorted(BASELINE_SCRIPTS) + sorted(FLOORS), default=None,
                   help="a baseline to run each round (repeat); default: c. floor and floor-uring are"
                        " scripts/fanout-floor.sh, a fan-out with no messaging library, with send() and io_uring")
    p.add_argument("--baseline-dir", default=os.environ.get("BASELINE_DIR", os.path.join(ROOT, "..", "shared", "baseline")))
    p.add_argument("--within", type=float, default=1.2, help="the ratio counted as 'within' (default 1.2)")
    p.add_argument("--json", metavar="FILE", help="also write every run's row here, one JSON object per line")
    p.add_argument("--hwm", type=int, metavar="N",
                   help="run ClusterSim and the C baseline with both high-water marks at N (default: each its own)")
    p.add_argument("--reader-nice", type=int, metavar="N", choices=range(-20, 20),
                   help="run every system's subscribers at nice value N (-20 ... 19)")
    p.add_argument("--writer-nice", type=int, metavar="N", choices=range(-20, 20),
                   help="run every system's fan-out side (writer; publisher and redis-server) at nice value N")
    p.add_argument("--reader-scheduling", choices=["normal", "batch"], default="normal",
                   help="run every system's subscribers under this scheduling policy (batch: SCHED_BATCH)")
    a = p.parse_args()
    scheduling = {k: v for k, v in [("reader_nice", a.reader_nice), ("writer_nice", a.writer_nice),
                                    ("reader_batch", a.reader_scheduling == "batch")] if v is not None and v is not False}
    variants = [parse_variant(v) for v in (a.variant or ["off"])]
    if len({v["label"] for v in variants}) != len(variants):
        raise SystemExit("compare: two variants share a label")
    baselines = a.baseline if a.baseline is not None else ["c"]
    for b in baselines:
        if b not in FLOORS and not os.access(os.path.join(a.baseline_dir, BASELINE_SCRIPTS[b]), os.X_OK):
            raise SystemExit(f"compare: no {BASELINE_SCRIPTS[b]} in {a.baseline_dir} (set --baseline-dir or BASELINE_DIR)")
    default_bin = build_release()
    for v in variants:
        if v["bin"] and not os.access(os.path.join(v["bin"], "orchestrator"), os.X_OK):
            raise SystemExit(f"compare: variant {v['label']}: no orchestrator in {v['bin']}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="compare-") as work:
        for v in variants:
            with open(os.path.join(work, v["label"] + ".json"), "w") as f:
                json.dump(topology(v, a.readers, a.rate, a.seconds, a.hwm, scheduling), f)
        zfan = build_zfan(a.baseline_dir, work) if a.hwm is not None and "c" in baselines else None
        for round_no in range(1, a.rounds + 1):
            def ours():
                order = variants if round_no % 2 == 1 else variants[::-1]
                return [run_clustersim(v, work, round_no, default_bin) for v in order]

            def theirs():
                return [run_baseline(b, a.baseline_dir, a.readers, a.rate, a.seconds, round_no, a.hwm, zfan, scheduling)
                        for b in baselines]

            got = theirs() + ours() if round_no % 2 == 0 else ours() + theirs()
            rows += got
            ref = next((r for r in got if r["kind"] == "baseline"), None)
            hwm = f", high-water marks {a.hwm}" if a.hwm is not None else ""
            hwm += f", readers at nice {a.reader_nice}" if a.reader_nice is not None else ""
            hwm += f", fan-out side at nice {a.writer_nice}" if a.writer_nice is not None else ""
            hwm += ", readers under SCHED_BATCH" if a.reader_scheduling == "batch" else ""
            print(f"round {round_no} ({a.readers} readers x {a.rate:g}/s, {a.seconds} s{hwm}):")
            # Baselines first, then the variants in the order given, whichever ran first.
            rank = {v["label"]: i + 1 for i, v in enumerate(variants)}
            for r in sorted(got, key=lambda r: (r["kind"] != "baseline", rank.get(r["system"], 0))):
                print(fmt_run(r, ref if r is not ref else None))
            sys.stdout.flush()
    write_rows(a.json, rows)
    print()
    labels = [v["label"] for v in variants]
    for v in labels:
        for b in baselines:
            print("\n".join(summary(rows, v, b, a.within)))
    for i, v in enumerate(labels):
        for w in labels[i + 1:]:
            print("\n".join(summary(rows, w, v, a.within)))


if __name__ == "__main__":
    main()
