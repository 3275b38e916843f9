import Benchmark
import ClusterCore
import Foundation

// The per-message cost of the wire format, for a 512-byte snapshot with a
// 16-entry transition history (the main job's snapshots).
//   encode: Snapshot → protobuf bytes → one SNP1 frame, stamped
//   decode: the reader's hot path (header parse), and a full decode of the snapshot

let snapshot: Snapshot = {
    var machine = StateMachine(state: .booting)
    var generator = EventGenerator(seed: 42)
    var s = Snapshot.initial(epoch: 1, fsmInstanceID: "fsm-bench", sourceModule: "bench", historyLimit: 16,
                             contextData: Data(repeating: 0xAB, count: 512))
    for _ in 0..<64 {
        if case .success(let t) = machine.apply(generator.next(for: machine.state)) {
            s = s.next(after: t, attemptCount: machine.attemptCount, historyLimit: 16)
        }
    }
    return s
}()

let frame: [UInt8] = {
    var b = SnapshotFrameBuilder()
    b.begin(encodedSnapshot: snapshot.encoded(), epoch: snapshot.epoch, version: snapshot.version)
    _ = b.stampAndSend { _ in () }
    return b.bytes
}()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        maxDuration: .seconds(3),
        maxIterations: 1_000
    )

    Benchmark("envelope encode (512 B snapshot, 16 history)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var builder = SnapshotFrameBuilder()
        for _ in benchmark.scaledIterations {
            builder.begin(encodedSnapshot: snapshot.encoded(), epoch: snapshot.epoch, version: snapshot.version)
            blackHole(builder.stampAndSend { $0.count })
        }
    }

    Benchmark("envelope header parse (reader hot path)", configuration: .init(scalingFactor: .mega)) { benchmark in
        for _ in benchmark.scaledIterations {
            frame.withUnsafeBytes { blackHole(FrameCodec.parseHeader($0)) }
        }
    }

    Benchmark("envelope full decode (header + snapshot)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for _ in benchmark.scaledIterations {
            frame.withUnsafeBytes { raw in
                if case .success(let h) = FrameCodec.parseHeader(raw) { blackHole(h.decodeSnapshot(in: raw)) }
            }
        }
    }

    Benchmark("envelope encode + full decode", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var builder = SnapshotFrameBuilder()
        for _ in benchmark.scaledIterations {
            builder.begin(encodedSnapshot: snapshot.encoded(), epoch: snapshot.epoch, version: snapshot.version)
            builder.stampAndSend { raw in
                if case .success(let h) = FrameCodec.parseHeader(raw) { blackHole(h.decodeSnapshot(in: raw)) }
            }
        }
    }
}
