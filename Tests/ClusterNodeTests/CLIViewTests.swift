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
}
