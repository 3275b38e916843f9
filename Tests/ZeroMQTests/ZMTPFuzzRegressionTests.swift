import Foundation
import Testing

@testable import ZeroMQ

/// The `zmtp` fuzz target's committed inputs, replayed through the checks it
/// runs (ZMTPFuzzChecks.swift): every seed of `Fuzz/Corpus/zmtp/`, and every
/// input of `Fuzz/Regressions/zmtp/`, named `<what>.<accepted|rejected>`.
@Suite("Fuzzing: the direct subscriber's seeds and regressions")
struct ZMTPFuzzRegressionTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func inputs(_ directory: URL) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    static func check(_ file: URL) throws -> ZMTPFuzzOutcome {
        let bytes = try Data(contentsOf: file)
        return try bytes.withUnsafeBytes { try ZMTPFuzz.check($0) }
    }

    @Test("every seed replays without a violation, with the outcome its seed says")
    func seeds() throws {
        let directory = Self.fuzzDirectory.appendingPathComponent("Corpus/zmtp")
        let files = try Self.inputs(directory)
        let seeds = ZMTPFuzzSeeds.seeds()
        #expect(files.count >= seeds.count, "\(files.count) files in \(directory.path); scripts/fuzz.sh --seeds writes them")
        var outcomes: [ZMTPFuzzOutcome: Int] = [:]
        for file in files {
            do {
                outcomes[try Self.check(file), default: 0] += 1
            } catch {
                Issue.record("\(file.lastPathComponent): \(error)")
            }
        }
        #expect(outcomes[.accepted, default: 0] > 0 && outcomes[.rejected, default: 0] > 0, "\(outcomes)")
        for seed in seeds {
            #expect(try seed.bytes.withUnsafeBytes { try ZMTPFuzz.check($0) } == seed.outcome, "\(seed.name)")
        }
    }

    @Test("every regression input replays without a violation, with its outcome")
    func regressions() throws {
        for file in try Self.inputs(Self.fuzzDirectory.appendingPathComponent("Regressions/zmtp")) {
            guard let expected = ZMTPFuzzOutcome(rawValue: file.pathExtension) else {
                Issue.record("\(file.lastPathComponent): name it <what>.accepted or <what>.rejected")
                continue
            }
            do {
                #expect(try Self.check(file) == expected, "\(file.lastPathComponent)")
            } catch {
                Issue.record("\(file.lastPathComponent): \(error)")
            }
        }
    }

    /// The check sees what the subscriber returns: a well-formed stream's
    /// messages come out whole and in order, and each ending is counted as it should be.
    @Test("the check observes the messages and the ending of a stream", arguments: [1, 2] as [UInt8])
    func observes(_ mode: UInt8) throws {
        let messages: [[UInt8]] = [Array("first".utf8), [], Array(repeating: 0xAB, count: 150), Array("last".utf8)]
        var input = [mode]
        for (i, m) in messages.enumerated() { input += [i == 2 ? 5 : 1, UInt8(m.count)] + m }
        input += [2, 3, 9, 9, 9]  // a command: skipped
        let observed = try ZMTPFuzz.run(input)
        #expect(observed.frames == messages)
        #expect(observed.connects == 1 && observed.disconnects == 1 && observed.oversizeDrops == 0)

        // A frame above the limit ends it: the messages before come out, the one after does not.
        let cut = try ZMTPFuzz.run([mode, 1, 2, 7, 7, 1, 220] + Array(repeating: 1, count: 220) + [1, 1, 8])
        #expect(cut.frames == [[7, 7]])
        #expect(cut.oversizeDrops == 1 && cut.disconnects == 1)

        // A raw stream that is not ZMTP is refused in the handshake.
        let refused = try ZMTPFuzz.run([mode == 1 ? 0 : 3] + Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + Array(repeating: 0, count: 40))
        #expect(refused.frames.isEmpty && refused.connects == 0 && refused.handshakeFailures == 1)
    }

    /// Writes the seed corpus: `CLUSTERSIM_FUZZ_SEEDS=Fuzz/Corpus swift test --filter FuzzRegressionTests`
    /// (or `scripts/fuzz.sh --seeds`). Skipped otherwise.
    @Test("write the seed corpus", .enabled(if: ProcessInfo.processInfo.environment["CLUSTERSIM_FUZZ_SEEDS"] != nil))
    func writeSeeds() throws {
        let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["CLUSTERSIM_FUZZ_SEEDS"]!)
            .appendingPathComponent("zmtp")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for seed in ZMTPFuzzSeeds.seeds() {
            try Data(seed.bytes).write(to: directory.appendingPathComponent(seed.name))
        }
    }
}

/// The `zmtp` seeds: each kind of publisher and record, and streams that must be refused.
enum ZMTPFuzzSeeds {
    struct Seed {
        let name: String
        let bytes: [UInt8]
        let outcome: ZMTPFuzzOutcome
    }

    static func record(_ kind: UInt8, _ payload: [UInt8]) -> [UInt8] { [kind, UInt8(payload.count)] + payload }

    static func seeds() -> [Seed] {
        let snapshotLike = Array("SNP1".utf8) + (0..<60).map { UInt8($0) }
        let streams: [(String, [UInt8])] = [
            ("messages", record(1, Array("abc".utf8)) + record(5, snapshotLike) + record(1, [])),
            ("multipart", record(9, Array("part-1".utf8)) + record(1, Array("part-2".utf8))),
            ("commands-between", record(1, [1]) + record(2, [4] + Array("PING".utf8)) + record(6, []) + record(10, [5, 5]) + record(1, [2])),
            ("above-the-limit", record(1, [1, 2, 3]) + record(3, [9, 9]) + record(1, [4])),
            ("long-frame-at-the-limit", record(5, Array(repeating: 0x5A, count: ZMTPFuzz.maxMessageSize - 40))),
            ("raw-in-the-middle", record(1, [1]) + record(0, [0, 3, 1, 2, 3]) + record(1, [2])),
        ]
        var out: [Seed] = []
        for (name, records) in streams {
            out.append(Seed(name: "null-\(name)", bytes: [1] + records, outcome: .accepted))
            out.append(Seed(name: "curve-\(name)", bytes: [2] + records, outcome: .accepted))
        }
        let nullHandshake = ZMTPFuzz.greeting("NULL")
            + ZMTPFuzz.frame([5] + Array("READY".utf8) + ZMTPFuzz.publisherMetadata, flags: 0x04, long: false)
        let notPublisher = [11] + Array("Socket-Type".utf8) + [0, 0, 0, 3] + Array("REQ".utf8)
        out += [
            Seed(name: "raw-null-publisher", bytes: [0] + nullHandshake + ZMTPFuzz.frame(Array("hello".utf8), flags: 0, long: false),
                 outcome: .accepted),
            Seed(name: "raw-empty", bytes: [0], outcome: .rejected),
            Seed(name: "raw-not-zmtp", bytes: [0] + Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8) + Array(repeating: 0x20, count: 40),
                 outcome: .rejected),
            Seed(name: "raw-curve-to-null", bytes: [0] + ZMTPFuzz.greeting("CURVE") + Array(repeating: 0, count: 20), outcome: .rejected),
            Seed(name: "raw-not-a-publisher",
                 bytes: [0] + ZMTPFuzz.greeting("NULL") + ZMTPFuzz.frame([5] + Array("READY".utf8) + notPublisher, flags: 0x04, long: false),
                 outcome: .rejected),
            Seed(name: "raw-error-instead-of-ready",
                 bytes: [0] + ZMTPFuzz.greeting("NULL") + ZMTPFuzz.frame([5] + Array("ERROR".utf8) + [4] + Array("nope".utf8), flags: 0x04, long: false),
                 outcome: .rejected),
            Seed(name: "raw-null-to-curve", bytes: [3] + nullHandshake, outcome: .rejected),
            Seed(name: "raw-forged-welcome",
                 bytes: [3] + ZMTPFuzz.greeting("CURVE") + ZMTPFuzz.frame([7] + Array("WELCOME".utf8) + Array(repeating: 1, count: 160), flags: 0x04, long: false),
                 outcome: .rejected),
        ]
        return out
    }
}
