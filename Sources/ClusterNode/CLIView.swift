import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The cli role's view: redrawn in place on a terminal, plain lines otherwise.
final class CLIView {
    let node: String
    let isTTY = isatty(STDOUT_FILENO) == 1

    init(node: String) { self.node = node }

    /// Nanoseconds as milliseconds with three decimals (to the nearest
    /// microsecond, halves up), without Foundation's formatter.
    static func millis(nanos: UInt64) -> String {
        let micros = nanos / 1000 + (nanos % 1000 >= 500 ? 1 : 0)
        let frac = micros % 1000
        return "\(micros / 1000)." + (frac < 10 ? "00" : frac < 100 ? "0" : "") + "\(frac)"
    }

    func render(state: String, version: UInt64, epoch: UInt64, lagNanos: UInt64, lost: UInt64, received: UInt64) {
        let line = "\(node)  state=\(state) version=\(version) epoch=\(epoch) lag=\(Self.millis(nanos: lagNanos))ms received=\(received) lost=\(lost)"
        if isTTY {
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
        } else {
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}

/// The cli role's latest snapshot, kept for the once-a-second view: its bytes
/// copied per message into raw storage the reader owns, not an array
/// (docs/architecture.md, "Decisions"), and read only when the view is drawn.
/// Only the snapshot is copied, not the frame around it: a batch frame holds
/// many, and copying the whole frame for each of its entries cost a memcpy of
/// the frame per version.
struct LatestFrame {
    private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private var length = 0
    private var kept = false

    /// Copies the snapshot's bytes (`raw[range]`): a plain memcpy.
    @inline(__always)
    mutating func keep(_ raw: UnsafeRawBufferPointer, snapshotRange range: Range<Int>) {
        if storage.count < range.count {
            storage.deallocate()
            storage = .allocate(byteCount: max(range.count, 2 * storage.count), alignment: 8)
        }
        storage.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[range]))
        length = range.count
        kept = true
    }

    /// The FSM state of the latest snapshot, or "-": the allocation-free scan
    /// the log role uses, not a full protobuf decode of a copy.
    func state() -> String {
        guard kept else { return "-" }
        let scanned = SnapshotSummary.scan(UnsafeRawBufferPointer(rebasing: storage[..<length]), snapshotRange: 0..<length)
        guard case .success(let summary) = scanned else { return "-" }
        return summary.state.name
    }

    /// Frees the storage; the owner calls it once, from its `deinit`.
    func deallocate() {
        storage.deallocate()
    }
}
