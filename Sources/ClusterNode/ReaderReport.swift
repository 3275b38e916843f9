import ClusterCore
import ClusterProcess

/// What the reader reports: its once-a-second tick and STATS, its metrics,
/// and its end.
extension ReaderNode {
    /// Rolls the per-second series; the query role publishes its metrics,
    /// the cli draws its view; an unanswered snapshot request is asked again.
    func tick(now: UInt64, _ runtime: NodeRuntime) -> LatencySummary {
        memory.ticks += 1
        let since = runtime.measuredSince ?? 0
        let interval = recorder.roll(t: measuring && now > since ? Double(now - since) / 1e9 : 0, lostSoFar: tracker.lost,
                                    scheduling: runtime.schedulingLastSecond)
        if let query {
            // What `metrics` answers: the figures now, without the per-second series, which
            // grows with the run (encoding it every second cost time and, freed and made
            // again larger each second, the heap grew about 0.4 KB a second).
            var now = metrics(runtime, memoryFresh: false)
            now.series = []
            query.publishMetrics(now.jsonText())
        }
        cli?.render(state: latest.state(), version: tracker.highest, epoch: tracker.epoch,
                    lagNanos: lastLagNanos, lost: tracker.lost, received: tracker.received)
        sync.tick(now: now)
        tracker.epochStarted(epoch: epochStart.epoch, firstVersion: epochStart.firstVersion)
        tracker.epochLimit = Self.epochLimit(wallNanos: SystemClock.wallNanos())
        if let refused = subs.check() {
            logger.warning("the publisher refused the direct subscriber's handshake: \(refused)")
        }
        snapshotWatch.check(snapshotClient)
        query?.checkConnections()
        return interval
    }

    func fillStats(_ stats: inout Clustersim_V1_Stats) {
        stats.received = tracker.received
        stats.lost = tracker.lost
        stats.epoch = tracker.epoch
        stats.version = tracker.highest
        if let q = query {
            let qs = q.stats()
            stats.busy = qs.busy
            stats.served = qs.served
        }
    }

    /// The upstreams let go, the last partial interval, the held updates and
    /// the tail accounted for, the log on disk, the query workers stopped;
    /// then everything measured.
    ///
    /// The writer has usually ended by now (it is stopped first): a socket
    /// still connected to it would try again every 100 ms, and under compose
    /// or swarm each try looks its name up in libzmq's I/O thread, which sends
    /// the FINAL too. A lookup of a name that no longer resolves held the
    /// FINAL past the control socket's linger and it was lost.
    func finish(reason: String, _ runtime: NodeRuntime) -> NodeRuntime.Final {
        subs.disconnect()
        try? snapshotClient.disconnect(config.snapshotEndpoint)
        if sync.stop() == .replayHeld { replayHeld() }
        let end = SystemClock.monotonicNanos()
        let since = runtime.measuredSince ?? 0
        recorder.roll(t: measuring && end > since ? Double(end - since) / 1e9 : 0, lostSoFar: tracker.lost)
        tracker.epochStarted(epoch: epochStart.epoch, firstVersion: epochStart.firstVersion)
        if let final = streamEnd.final { tracker.finish(finalEpoch: final.epoch, finalVersion: final.version) }
        if let l = log, !l.close() || l.writeErrors > 0 {
            logger.error("the log file lost lines", metadata: [
                "path": "\(l.path)", "errors": "\(l.writeErrors)", "dropped": "\(l.droppedLines)", "error": "\(l.lastError ?? "")"])
        }
        query?.shutdown()
        let metrics = metrics(runtime)
        return NodeRuntime.Final(
            metrics: metrics, histogram: recorder.total, message: "reader stopped",
            summary: ["received": "\(tracker.received)", "lost": "\(tracker.lost)",
                      "p50us": "\(metrics.latency.p50Us)", "p99us": "\(metrics.latency.p99Us)"])
    }

    /// Everything the node measures, as the dumps and FINAL carry it.
    /// - Parameter memoryFresh: read USS/PSS now. The query role publishes its
    ///   metrics every second; it rereads them once a minute (smaps_rollup
    ///   costs about a millisecond of kernel time per read) and repeats the
    ///   last values in between.
    func metrics(_ runtime: NodeRuntime, memoryFresh: Bool = true) -> NodeMetrics {
        var counters = tracker.counters
        counters[.decodeErrors] = decodeErrors
        counters[.heartbeats] = heartbeats
        counters[.resyncs] = tally.resyncs
        counters[.snailDisconnects] = tally.snailDisconnects
        counters[.writerVersionSeen] = writerVersion
        counters[.latencyClamped] = recorder.clamped
        counters[.processingDelayNanos] = tally.delayedNanos
        if config.clock == .wall { counters[.latencyNegative] = tally.negativeLatencies }
        var gauges: [String: Double] = [:]
        var latencies: [String: LatencySummary] = [:]
        if batches.frames > 0 {
            counters[.batchFrames] = batches.frames
            counters[.batchedVersions] = batches.versions
            latencies[LatencyName.batchTransport] = LatencySummary(batches.transport)
        }
        if let l = log {
            counters[.logLines] = l.linesWritten
            counters[.logFlushes] = l.flushes
            counters[.logFsyncs] = l.fsyncs
            counters[.logWriteErrors] = l.writeErrors
            counters[.logLinesDropped] = l.droppedLines
        }
        if let q = query {
            let s = q.stats()
            counters[.queryServed] = s.served
            counters[.queryBusy] = s.busy
            counters[.queryNotAvailable] = s.notAvailable
            counters[.queryBadRequests] = s.badRequests
            gauges[.queryBusyRatio] = s.served + s.busy > 0 ? Double(s.busy) / Double(s.served + s.busy) : 0
            latencies["query_service"] = LatencySummary(s.serviceLatency)
        }
        gauges[.lagMsLast] = Double(lastLagNanos) / 1e6
        gauges[.maxMessageBytes] = Double(config.maxMessageBytes)
        if runtime.pinnedTo.count == 1 { gauges[.cpuPinned] = Double(runtime.pinnedTo[0]) }
        if let since = runtime.measuredSince { gauges[.runSeconds] = Double(SystemClock.monotonicNanos() - since) / 1e9 }
        return runtime.metrics(
            epoch: tracker.epoch, counters: counters, gauges: gauges, recorder: recorder, latencies: latencies,
            converge: tally.converge, process: memory.read(fresh: memoryFresh),
            notes: ["policy=\(config.policy.rawValue)", "clock=\(config.clock.rawValue)"])
    }
}

/// The reader's /proc figures: USS/PSS are read at most once a minute
/// between dumps, and repeated in between.
struct MemoryReading {
    /// USS/PSS as last read, and the tick count when they were.
    private var last: (uss: UInt64, pss: UInt64, tick: Int)?
    /// Ticks so far.
    var ticks = 0

    /// The process's figures now; USS/PSS read when `fresh` or a minute old, else repeated.
    mutating func read(fresh: Bool) -> ProcessStats? {
        var process = ProcessStats.read(withSmaps: fresh || last.map { ticks - $0.tick >= 60 } ?? true)
        if let p = process, p.ussBytes > 0 || p.pssBytes > 0 {
            last = (p.ussBytes, p.pssBytes, ticks)
        } else if let m = last {
            process?.ussBytes = m.uss
            process?.pssBytes = m.pss
        }
        return process
    }
}
