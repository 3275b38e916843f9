#!/usr/bin/env python3
"""An independent ClusterSim subscriber: a cheap check of the wire format.

Connects a SUB socket to a writer's PUB endpoint, subscribes to SNP1, SNB1
(batches of several versions), HBT1 and END1, decodes every frame with a small hand-written protobuf reader (no
generated code, no protobuf package: only pyzmq is needed) and prints, each
second, what arrived: snapshots, heartbeats, gaps, versions lost and fan-out
latency (CLOCK_MONOTONIC, so writer and subscriber must share the host).

With --snapshots it also asks the writer's snapshot service for the current
snapshot once the first heartbeat arrived (the Clone pattern: subscribe
first, then ask, then discard updates at or below the snapshot's version).

    python3 scripts/py-subscriber.py tcp://127.0.0.1:5555 --seconds 5
    python3 scripts/py-subscriber.py tcp://127.0.0.1:5555 --snapshots tcp://127.0.0.1:5556
    python3 scripts/py-subscriber.py --run runs/100-readers-20261204-101500 --seconds 60

With --run it attaches to an orchestrated run: it waits for the run
directory's endpoints.json (written before any node starts; `orchestrator run
--print-endpoints` prints the same), subscribes to the writer's PUB, asks its
snapshot service, and stops at the writer's END1 (or after --seconds).

docs/protocol.md describes the format. Exit status: 0 when snapshots arrived
and every frame decoded, 1 otherwise, 2 for bad arguments.
"""

import argparse
import sys
import time

try:
    import zmq
except ImportError:
    sys.exit("py-subscriber: pyzmq is missing: pip install pyzmq (or apt-get install python3-zmq)")

MASK64 = (1 << 64) - 1
STATES = {0: "UNSPECIFIED", 1: "BOOTING", 2: "IDLE", 3: "ACTIVE", 4: "ERROR_STATE", 5: "SHUTDOWN"}


class WireError(Exception):
    pass


# ---- protobuf wire format, reading ----

def read_varint(buf, i):
    value, shift = 0, 0
    while True:
        if i >= len(buf):
            raise WireError("truncated varint at byte %d" % i)
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            if value > MASK64:
                raise WireError("varint overflows 64 bits")
            return value, i
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes")


def fields(buf, i=0):
    """Yields (field number, wire type, value): an int, or bytes for wire type 2."""
    while i < len(buf):
        tag, i = read_varint(buf, i)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise WireError("field number 0")
        if wire == 0:
            value, i = read_varint(buf, i)
        elif wire == 1:
            if i + 8 > len(buf):
                raise WireError("truncated fixed64")
            value, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wire == 2:
            n, i = read_varint(buf, i)
            if i + n > len(buf):
                raise WireError("length %d beyond the frame" % n)
            value, i = bytes(buf[i:i + n]), i + n
        elif wire == 5:
            if i + 4 > len(buf):
                raise WireError("truncated fixed32")
            value, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        else:
            raise WireError("unsupported wire type %d" % wire)
        yield field, wire, value


def message(buf, schema):
    """Decodes a message into a dict: schema maps field number to (name, kind);
    kind is 'u' (varint), 's' (string), 'b' (bytes), 'm' (message bytes) or
    a list of one kind (repeated). Unknown fields are skipped."""
    out = {name: ([] if isinstance(kind, list) else (0 if kind == "u" else b"")) for name, kind in schema.values()}
    for field, wire, value in fields(buf):
        if field not in schema:
            continue
        name, kind = schema[field]
        k = kind[0] if isinstance(kind, list) else kind
        if (k == "u") != (wire == 0):
            raise WireError("field %s has wire type %d" % (name, wire))
        if k == "s":
            value = value.decode("utf-8")
        if isinstance(kind, list):
            out[name].append(value)
        else:
            out[name] = value
    return out


ENVELOPE = {1: ("epoch", "u"), 2: ("version", "u"), 3: ("send_monotonic_ns", "u"), 4: ("send_wall_ns", "u"),
            5: ("snapshot", "m"), 6: ("coalesced", "u")}
HEARTBEAT = {1: ("epoch", "u"), 2: ("version", "u"), 3: ("send_monotonic_ns", "u"), 4: ("send_wall_ns", "u"),
             5: ("sequence", "u")}
END = {1: ("epoch", "u"), 2: ("final_version", "u"), 3: ("published", "u")}
BATCH = {1: ("epoch", "u"), 3: ("send_monotonic_ns", "u"), 4: ("send_wall_ns", "u"), 5: ("entries", ["m"])}
SNAPSHOT = {1: ("version", "u"), 2: ("epoch", "u"), 3: ("state", "u"), 4: ("prev_state", "u"), 5: ("reason", "s"),
            6: ("snapshot_id", "s"), 7: ("fsm_instance_id", "s"), 8: ("source_module", "s"),
            9: ("attempt_count", "u"), 10: ("monotonic_ns", "u"), 11: ("wall_ns", "u"), 12: ("history", ["m"]),
            13: ("context_data", "b")}
HISTORY = {1: ("from", "u"), 2: ("to", "u"), 3: ("event", "s"), 4: ("reason", "s"), 5: ("version", "u"),
           6: ("wall_ns", "u")}
SNAPSHOT_REPLY = {1: ("request_id", "u"), 2: ("epoch", "u"), 3: ("version", "u"), 4: ("snapshot", "m"),
                  5: ("send_monotonic_ns", "u"), 6: ("send_wall_ns", "u")}


def snapshot(buf):
    s = message(buf, SNAPSHOT)
    s["history"] = [message(h, HISTORY) for h in s["history"]]
    return s


# ---- protobuf wire format, writing (the snapshot request) ----

def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def snapshot_request(client, request_id):
    name = client.encode()
    return varint(1 << 3 | 2) + varint(len(name)) + name + varint(2 << 3 | 0) + varint(request_id)


# ---- accounting ----

def percentile(sorted_values, p):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))]


class Stats:
    def __init__(self):
        self.snapshots = self.heartbeats = self.ends = self.batches = 0
        self.gaps = self.lost = self.duplicates = self.out_of_order = self.stale = self.coalesced = 0
        self.bad = self.mismatched = self.epoch_changes = 0
        self.latencies_ns = []


class Tracker:
    """Loss accounting as ClusterCore's VersionTracker does it."""

    def __init__(self):
        self.epoch = 0
        self.highest = 0
        self.floor = 0
        self.first = 0  # first version held in this epoch: versions before it are not counted as lost

    def observe(self, epoch, version, *stats, coalesced=0):
        """Classifies one update; adds to the counters of every Stats given.
        `coalesced` versions just below `version` were made but not sent by the
        writer: skipped, not lost."""
        def add(attr, n=1):
            for s in stats:
                setattr(s, attr, getattr(s, attr) + n)
        if epoch < self.epoch:
            return "old-epoch"
        if epoch > self.epoch:
            if self.epoch:
                add("epoch_changes")
            self.epoch, self.highest, self.floor, self.first = epoch, version, 0, version
            return "first"
        if version == self.highest + 1:
            self.highest = version
            return "in-order"
        if version > self.highest:
            jump = version - self.highest - 1
            folded = min(jump, coalesced)
            add("coalesced", folded)
            self.highest = version
            if jump == folded:
                return "in-order"
            add("gaps")
            add("lost", jump - folded)
            return "gap"
        if version <= self.floor:
            add("stale")
            return "stale"
        if version == self.highest:
            add("duplicates")
            return "duplicate"
        add("out_of_order")
        return "out-of-order"

    def apply_snapshot(self, epoch, version):
        if epoch > self.epoch:
            self.epoch, self.highest, self.floor, self.first = epoch, version, version, version
        elif epoch == self.epoch:
            self.floor = max(self.floor, version)
            self.highest = max(self.highest, version)


def summary_line(label, s):
    lat = sorted(s.latencies_ns)
    us = lambda ns: ns / 1000.0
    return ("%s snapshots=%d batches=%d heartbeats=%d gaps=%d lost=%d coalesced=%d dup=%d stale=%d bad=%d "
            "latency_us p50=%.1f p90=%.1f p99=%.1f max=%.1f" % (
                label, s.snapshots, s.batches, s.heartbeats, s.gaps, s.lost, s.coalesced, s.duplicates, s.stale, s.bad,
                us(percentile(lat, 50)), us(percentile(lat, 90)), us(percentile(lat, 99)), us(lat[-1] if lat else 0)))


def wait_for_endpoints(run_dir, timeout):
    """The run's endpoints.json, waited for (bounded): the orchestrator writes it before any node starts."""
    import json
    import os
    path = os.path.join(run_dir, "endpoints.json")
    if os.path.exists(os.path.join(run_dir, "report.json")):
        sys.exit("py-subscriber: %s has ended (its report.json is written): nothing left to attach to" % run_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            time.sleep(0.05)
    sys.exit("py-subscriber: no %s within %d s: is the run directory right?" % (path, timeout))


def main():
    ap = argparse.ArgumentParser(description="Independent ClusterSim subscriber (wire-format check).")
    ap.add_argument("endpoint", nargs="?", help="the writer's PUB endpoint, e.g. tcp://127.0.0.1:5555")
    ap.add_argument("--run", metavar="RUN_DIR", help="attach to an orchestrated run: read the endpoints from RUN_DIR/endpoints.json")
    ap.add_argument("--seconds", type=float, default=5, help="how long to listen (default 5)")
    ap.add_argument("--snapshots", metavar="ENDPOINT", help="the writer's snapshot service: ask it once (Clone pattern)")
    ap.add_argument("--verbose", action="store_true", help="print every decoded snapshot's summary")
    ap.add_argument("--json", metavar="FILE", help="write the totals as JSON here at the end")
    args = ap.parse_args()
    if args.seconds <= 0:
        ap.error("--seconds must be positive")
    if args.run:
        endpoints = wait_for_endpoints(args.run, timeout=30)
        args.endpoint = args.endpoint or endpoints["writer"]["pub"]
        args.snapshots = args.snapshots or endpoints["writer"]["snapshots"]
    if not args.endpoint:
        ap.error("give the writer's PUB endpoint, or --run RUN_DIR")

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 100000)
    for prefix in (b"SNP1", b"SNB1", b"HBT1", b"END1"):
        sub.setsockopt(zmq.SUBSCRIBE, prefix)
    sub.connect(args.endpoint)
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    dealer = None
    if args.snapshots:
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(args.snapshots)
        poller.register(dealer, zmq.POLLIN)

    total, interval, tracker = Stats(), Stats(), Tracker()
    # The Clone exchange, in the order docs/protocol.md §4 makes normative: ask on
    # the first frame of any kind, hold updates until the answer, then replay them.
    holding = dealer is not None
    held = []
    request_id = 0
    sent_at = None  # when the outstanding request was sent (monotonic ns); None: none outstanding
    end = None
    start = time.monotonic_ns()
    deadline = start + int(args.seconds * 1e9)
    next_tick = start + 1_000_000_000
    second = 0
    print("py-subscriber: %s for %gs" % (args.endpoint, args.seconds), flush=True)

    def count(attr, n=1):
        setattr(total, attr, getattr(total, attr) + n)
        setattr(interval, attr, getattr(interval, attr) + n)

    def account(env, label):
        """The tracker's verdict on one version (on arrival, or when held ones are replayed)."""
        tracker.observe(env["epoch"], env["version"], total, interval, coalesced=env.get("coalesced", 0))
        s = snapshot(env["snapshot"])
        if s["version"] != env["version"] or s["epoch"] != env["epoch"]:
            count("mismatched")
        if args.verbose:
            print("  %s epoch=%d version=%d state=%s prev=%s id=%s history=%d payload=%dB" % (
                label, env["epoch"], env["version"], STATES.get(s["state"], s["state"]),
                STATES.get(s["prev_state"], s["prev_state"]), s["snapshot_id"], len(s["history"]),
                len(s["context_data"])))

    def ask():
        nonlocal request_id, sent_at
        request_id += 1
        dealer.send(snapshot_request("py-subscriber", request_id))
        sent_at = time.monotonic_ns()

    def release():
        """Stops holding: the held updates are accounted for in arrival order."""
        nonlocal holding
        holding = False
        for env, label in held:
            account(env, label)
        held.clear()

    while True:
        now = time.monotonic_ns()
        if now >= next_tick:
            second += 1
            print(summary_line("t=%ds" % second, interval) + " epoch=%d version=%d" % (tracker.epoch, tracker.highest),
                  flush=True)
            interval = Stats()
            next_tick += 1_000_000_000
        if now >= deadline or (end is not None and now >= end):
            break
        if sent_at is not None and now - sent_at > 1_000_000_000:
            ask()  # no answer, or one without a snapshot, within a second of the request
        if holding and now - start > 5_000_000_000:
            release()  # given up on the start snapshot: go on with updates alone
        timeout_ms = max(1, min(next_tick, deadline) - now) / 1e6
        if dealer is None or sent_at is None:
            # Nothing else to wait for: one blocking receive per frame, as the
            # project's reader does (a poll() first costs a wake-up and a system
            # call more, which shows in the latency it measures).
            sub.setsockopt(zmq.RCVTIMEO, int(timeout_ms))
            ready = [(sub, zmq.POLLIN)]
        else:
            ready = poller.poll(timeout_ms)
        for sock, _ in ready:
            if sock is dealer:
                reply = message(dealer.recv(), SNAPSHOT_REPLY)
                if sent_at is None or reply["request_id"] != request_id:
                    continue  # a late answer to a request asked again since
                if reply["snapshot"]:
                    sent_at = None
                    s = snapshot(reply["snapshot"])
                    tracker.apply_snapshot(reply["epoch"], reply["version"])
                    print("snapshot service: epoch=%d version=%d state=%s id=%s history=%d payload=%dB" % (
                        reply["epoch"], reply["version"], STATES.get(s["state"], s["state"]), s["snapshot_id"],
                        len(s["history"]), len(s["context_data"])), flush=True)
                    release()
                else:
                    print("snapshot service: no snapshot yet (epoch=%d); asking again in a second" % reply["epoch"], flush=True)
                continue
            blocking = ready and ready[0][0] is sub and (dealer is None or sent_at is None)
            while True:
                try:
                    frame = sub.recv(0 if blocking else zmq.NOBLOCK)
                except zmq.Again:
                    break
                blocking = False
                recv_mono = time.monotonic_ns()
                kind, body = frame[:4], memoryview(frame)[4:]
                if dealer is not None and request_id == 0 and kind in (b"SNP1", b"SNB1", b"HBT1"):
                    ask()  # the first frame proves the subscription
                def update(env, label):
                    """One version: an SNP1 frame's, or an entry of an SNB1 batch (its stamps are
                    when the writer made it, so the latency includes the wait to be batched).
                    Its latency is recorded on arrival; while holding, its accounting waits."""
                    count("snapshots")
                    total.latencies_ns.append(recv_mono - env["send_monotonic_ns"])
                    interval.latencies_ns.append(recv_mono - env["send_monotonic_ns"])
                    if holding:
                        held.append((env, label))
                    else:
                        account(env, label)

                try:
                    if kind == b"SNP1":
                        update(message(body, ENVELOPE), "SNP1")
                    elif kind == b"SNB1":
                        batch = message(body, BATCH)
                        count("batches")
                        for entry in batch["entries"]:
                            env = message(entry, ENVELOPE)
                            env["epoch"] = batch["epoch"]
                            update(env, "SNB1")
                    elif kind == b"HBT1":
                        message(body, HEARTBEAT)
                        count("heartbeats")
                    elif kind == b"END1":
                        e = message(body, END)
                        count("ends")
                        if end is None:
                            release()  # the stream ended: what is held is all there is
                            tail = e["final_version"] - tracker.highest if e["epoch"] == tracker.epoch else 0
                            print("END1 epoch=%d final_version=%d published=%d tail_lost=%d" % (
                                e["epoch"], e["final_version"], e["published"], max(0, tail)), flush=True)
                            count("lost", max(0, tail))
                            end = recv_mono + 100_000_000  # the writer repeats END; take what is left
                    else:
                        raise WireError("unknown prefix %r" % bytes(kind))
                except (WireError, UnicodeDecodeError) as err:
                    count("bad")
                    print("bad frame (%d bytes): %s" % (len(frame), err), file=sys.stderr)

    release()  # updates still held at the end are accounted for, as the reader does at stop
    print(summary_line("total", total) + " first_version=%d epoch_changes=%d mismatched=%d" % (
        tracker.first, total.epoch_changes, total.mismatched), flush=True)
    if args.json:
        import json
        lat = sorted(total.latencies_ns)
        with open(args.json, "w") as f:
            json.dump({"snapshots": total.snapshots, "batches": total.batches, "heartbeats": total.heartbeats,
                       "gaps": total.gaps, "lost": total.lost, "coalesced": total.coalesced, "stale": total.stale,
                       "bad": total.bad, "mismatched": total.mismatched, "first_version": tracker.first,
                       "highest": tracker.highest, "epoch": tracker.epoch,
                       "p50_us": percentile(lat, 50) / 1000.0, "p99_us": percentile(lat, 99) / 1000.0}, f)
    ok = total.snapshots > 0 and total.bad == 0 and total.mismatched == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
