#!/usr/bin/env python3
"""The highest loss-free rate of one writer fanning out to N readers, for
ClusterSim (with batching, without) and raw libzmq in C, in one sitting.

    scripts/loss-free-rate.py READERS [READERS ...] [--seconds 4] [--tolerance 10%] [--probe 2/2]

ClusterSim's knee is `orchestrator sweep --find-max writer.rate` on a
cli-only topology like scripts/compare.py's (272-byte frames, 2 s warm-up)
whose one SLO is no loss by any reader; one search per variant:
`batch` (writer.batch with maxDelay --batch-delay, 1 ms by default),
`direct` (readers that read ZMTP themselves, a writer queue of 10 000
frames and batches of --direct-delay: 2 ms at 100 readers or more, 100 µs
below, as scripts/compare-overload.sh runs them) and `off` (writer.batch
false). C's is the same search done here on
../shared/baseline/run-baseline.sh (no loss in every run of a probe):
doubling from --from, then bisecting to --tolerance. A probe passes when
all of its runs are loss-free (--probe K/N: K of N, the sweep's rule in one
stage). Prints a line per search and a table at the end.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
compare = __import__("compare")


def topology(readers, rate, secs, batch, direct=False):
    t = compare.topology({"label": "x", "settings": {}}, readers, rate, secs)
    t["name"] = f"loss-free-{readers}"
    t["writer"]["batch"] = batch
    if direct:
        t["readers"][0]["subscriber"] = "direct"
        t["writer"]["sndhwm"] = 10000
    t["slo"] = {"maxLossFastReaders": 0}
    return t


def clustersim_knee(bin_dir, readers, start, secs, name, batch, tolerance, probe, work):
    path = os.path.join(work, f"t{readers}-{name}.json")
    with open(path, "w") as f:
        json.dump(topology(readers, start, secs, batch, direct=name == "direct"), f)
    out = os.path.join(work, "sweeps")
    r = subprocess.run([os.path.join(bin_dir, "orchestrator"), "sweep", path, "--find-max", "writer.rate",
                        "--tolerance", tolerance, "--probe", probe, "--out", out, "--quiet"],
                       capture_output=True, text=True)
    sweeps = sorted((os.path.join(out, d) for d in os.listdir(out)), key=os.path.getmtime)
    doc = json.load(open(os.path.join(sweeps[-1], "sweep.json")))
    knee = doc["knees"][0]
    runs = sum(len(p["runs"]) for p in doc["points"])
    return knee.get("knee"), knee.get("failedAbove"), runs, r.returncode


def c_loss_free(baseline_dir, readers, rate, secs, runs, need):
    passed = 0
    for _ in range(runs):
        port = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "free-port-pair.py")],
                              check=True, capture_output=True, text=True).stdout.strip()
        out = subprocess.run([os.path.join(baseline_dir, "run-baseline.sh"), str(readers), str(int(rate)), str(secs), port],
                             check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        passed += json.loads(out)["lost"] == 0
    return passed >= need


def c_knee(baseline_dir, readers, start, secs, tolerance, probe):
    """Doubling, then bisection, as the sweep's search does; returns (knee, failed above, runs)."""
    need, runs = map(int, probe.split("/"))
    count = 0

    def ok(rate):
        nonlocal count
        count += runs
        return c_loss_free(baseline_dir, readers, rate, secs, runs, need)

    lo, hi, rate = None, None, float(start)
    while lo is None or hi is None:
        if ok(rate):
            lo = rate
            rate *= 2
        else:
            hi = rate
            rate /= 2
        if rate < 1 or rate > 2_000_000:
            break
    if lo is None or hi is None:
        return lo, hi, count
    width = (lambda a: float(tolerance[:-1]) / 100 * a) if tolerance.endswith("%") else (lambda a: float(tolerance))
    while hi - lo > width(lo):
        mid = round((lo + hi) / 2)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo, hi, count


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("readers", type=int, nargs="+")
    p.add_argument("--seconds", type=int, default=4, help="measured seconds per run (default 4)")
    p.add_argument("--tolerance", default="10%", help="stop bisecting within this (default 10%%)")
    p.add_argument("--probe", default="2/2", help="a probe passes when K of N runs lose nothing (default 2/2)")
    p.add_argument("--from", dest="start", type=float, help="the first rate probed (default 100 000 / READERS)")
    p.add_argument("--batch-delay", default="1ms", help="writer.batch.maxDelay of the batching variant (default 1ms)")
    p.add_argument("--direct-delay", help="writer.batch.maxDelay of the direct variant (default 2ms at 100 readers or more, 100us below)")
    p.add_argument("--only", choices=["batch", "direct", "off", "c"], action="append", help="run only these searches (repeat)")
    p.add_argument("--baseline-dir", default=os.environ.get("BASELINE_DIR", os.path.join(ROOT, "..", "shared", "baseline")))
    a = p.parse_args()
    which = a.only or ["batch", "direct", "off", "c"]
    bin_dir = compare.build_release()
    rows = []
    with tempfile.TemporaryDirectory(prefix="loss-free-") as work:
        for readers in a.readers:
            start = a.start or max(100, 100_000 // readers)
            for name in which:
                if name == "c":
                    knee, above, runs = c_knee(a.baseline_dir, readers, start, a.seconds, a.tolerance, a.probe)
                else:
                    if name == "off":
                        batch = False
                    else:
                        delay = a.batch_delay if name == "batch" else a.direct_delay or ("2ms" if readers >= 100 else "100us")
                        batch = {"maxCount": 64, "maxDelay": delay}
                    knee, above, runs, _ = clustersim_knee(bin_dir, readers, start, a.seconds, name, batch, a.tolerance, a.probe, work)
                row = {"readers": readers, "system": name, "knee": knee, "failed_above": above, "runs": runs}
                rows.append(row)
                print(f"{readers} readers, {name}: loss-free up to {knee if knee is not None else '-'} msg/s"
                      f" (failed at {above if above is not None else '-'}), {runs} runs", flush=True)
    print()
    print(f"{'readers':>7}  {'system':>6}  {'loss-free msg/s':>15}  {'deliveries/s':>12}  {'failed at':>9}  {'x C':>5}")
    for r in rows:
        c = next((x["knee"] for x in rows if x["readers"] == r["readers"] and x["system"] == "c"), None)
        ratio = f"{r['knee'] / c:.2f}" if r["knee"] and c else "-"
        knee = f"{r['knee']:.0f}" if r["knee"] is not None else "-"
        deliveries = f"{r['knee'] * r['readers']:.0f}" if r["knee"] is not None else "-"
        above = f"{r['failed_above']:.0f}" if r["failed_above"] is not None else "-"
        print(f"{r['readers']:>7}  {r['system']:>6}  {knee:>15}  {deliveries:>12}  {above:>9}  {ratio:>5}")


if __name__ == "__main__":
    main()
