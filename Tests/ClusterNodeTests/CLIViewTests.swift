import ClusterCore
import Foundation
import Testing

@testable import ClusterNode

@Suite("cli view")
struct CLIViewTests {
    /// The lag is printed with three decimals by hand (once a second in every
    /// cli reader); it must read as printf's `%.3f` of the milliseconds does,
    /// and round exact halves of a microsecond up.
    @Test("lag milliseconds read as %.3f")
    func millisMatchPrintf() {
        var values: [UInt64] = [0, 1, 499, 501, 999, 1_000, 9_999_499, 12_345_678, 60_000_000_000]
        var x: UInt64 = 0x2545_F491_4F6C_DD1D
        for _ in 0..<2_000 {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            values.append(x % 10_000_000_000)   // 0 ... 10 s
        }
        for nanos in values where nanos % 1000 != 500 {
            #expect(CLIView.millis(nanos: nanos) == String(format: "%.3f", Double(nanos) / 1e6), "\(nanos) ns")
        }
        #expect(CLIView.millis(nanos: 500) == "0.001")
        #expect(CLIView.millis(nanos: 1_234_500) == "1.235")
        #expect(CLIView.millis(nanos: 999_999_500) == "1000.000")
    }

    static func snapshot(_ v: UInt64, _ state: FSMState) -> Snapshot {
        Snapshot(version: v, epoch: 1, state: state, prevState: .idle, reason: "test", snapshotID: "1-\(v)",
                 fsmInstanceID: "fsm", sourceModule: "test", attemptCount: 0, monotonicNanos: v, wallNanos: v,
                 history: [], contextData: Data(repeating: 7, count: 100))
    }

    /// The view keeps the snapshot of each entry it is given, from a single
    /// update frame or from inside a batch frame, and shows the last one's state.
    @Test("the latest snapshot kept, from an update frame and from a batch's entries")
    func latestKept() throws {
        var latest = LatestFrame()
        defer { latest.deallocate() }
        #expect(latest.state() == "-")

        var single = SnapshotFrameBuilder()
        single.begin(encodedSnapshot: Self.snapshot(1, .active).encoded(), epoch: 1, version: 1)
        _ = single.stampAndSend { raw in
            let header = FrameCodec.header(of: raw)
            if let header, let range = header.snapshotRange { latest.keep(raw, snapshotRange: range) }
            #expect(header != nil)
        }
        #expect(latest.state() == FSMState.active.name)

        let states: [FSMState] = [.idle, .active, .errorState, .shutdown]
        var batch = BatchFrameBuilder()
        batch.begin(epoch: 1)
        for (i, state) in states.enumerated() {
            batch.append(encodedSnapshot: Self.snapshot(UInt64(2 + i), state).encoded(), version: UInt64(2 + i),
                         madeMonotonicNanos: 1, madeWallNanos: 1)
        }
        var seen: [String] = []
        _ = batch.stampAndSend { raw in
            guard let header = FrameCodec.header(of: raw) else { Issue.record("no header"); return }
            #expect(header.kind == .batch)
            let ok = header.forEachEntry(in: raw) { entry in
                guard let range = entry.snapshotRange else { return }
                latest.keep(raw, snapshotRange: range)
                seen.append(latest.state())
            }
            #expect(ok)
        }
        #expect(seen == states.map(\.name))
    }
}
