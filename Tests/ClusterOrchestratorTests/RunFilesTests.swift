import ClusterCore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@testable import ClusterOrchestrator

/// Where a run keeps its files: the run directory and its private temporary directory.
@Suite("Run files")
struct RunFilesTests {
    static func scratch() throws -> String {
        let d = NSTemporaryDirectory() + "runfiles-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static let topology = Topology(name: "same-second", writer: WriterSpec(rate: 10), readers: [ReaderGroup(role: .cli)])

    @Test("runs started in the same second get directories of their own")
    func uniqueRunDirectories() throws {
        let parent = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let dirs = try (0..<5).map { _ in try RunDirectory(parent: parent, topology: Self.topology).path }
        #expect(Set(dirs).count == 5, "\(dirs)")
        for d in dirs {
            #expect(FileManager.default.fileExists(atPath: d + "/events.jsonl") && FileManager.default.fileExists(atPath: d + "/nodes"))
        }
    }

    @Test("the private directory is made by mkdtemp, mode 0700, and removed")
    func privateDirectory() throws {
        let parent = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let a = try PrivateDirectory(parent: parent), b = try PrivateDirectory(parent: parent)
        #expect(a.path != b.path && a.path.hasPrefix(parent + "/clustersim-run-\(getpid())-"))
        var st = stat()
        #expect(stat(a.path, &st) == 0 && st.st_mode & 0o777 == 0o700)
        a.remove()
        #expect(!FileManager.default.fileExists(atPath: a.path))
    }

    @Test("leftovers of dead orchestrators are removed; the live ones' and anything else stay")
    func leftovers() throws {
        let parent = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let names = ["clustersim-run-111-AbCdEf", "clustersim-run-222-XyZ123", "clustersim-333", "clustersim-test-abc",
                     "clustersim-run-444-short", "clustersim-run-x-AbCdEf", "other"]
        for n in names { try FileManager.default.createDirectory(atPath: parent + "/" + n, withIntermediateDirectories: true) }
        let removed = PrivateDirectory.removeLeftovers(parent: parent, isAlive: { $0 == 222 })
        #expect(Set(removed) == [parent + "/clustersim-run-111-AbCdEf", parent + "/clustersim-333"])
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: parent))
        #expect(left == ["clustersim-run-222-XyZ123", "clustersim-test-abc", "clustersim-run-444-short", "clustersim-run-x-AbCdEf", "other"])
    }
}
