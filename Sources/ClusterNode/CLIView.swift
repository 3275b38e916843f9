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
