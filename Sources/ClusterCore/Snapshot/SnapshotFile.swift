#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure to persist a snapshot.
public struct SnapshotFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong; more codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String
        public static let encode = Code(rawValue: "encode")
        public static let createDirectory = Code(rawValue: "create directory")
        public static let write = Code(rawValue: "write")
        public static let sync = Code(rawValue: "sync")
        public static let rename = Code(rawValue: "rename")
        public var description: String { rawValue }
    }

    public let code: Code
    /// The file or directory the operation was on.
    public let path: String
    /// The `errno` of the failed call, or 0 when the failure was not a system call's.
    public let errno: Int32
    /// Details of a failure that was not a system call's.
    public let detail: String?

    public var description: String {
        let cause = detail ?? String(cString: strerror(errno))
        return "cannot save the writer's snapshot (\(code)) at \(path): \(cause); "
            + "check that the state directory exists, is writable and has space"
    }
}

/// Atomic persistence of the writer's latest snapshot, so that a restart can
/// continue the version line.
///
/// The file is `<directory>/writer-state.json` (the snapshot's JSON form).
/// ``save(_:)`` writes a temporary file beside it, `fsync`s it, renames it
/// over the old one and `fsync`s the directory, so a crash leaves either the
/// old or the new snapshot, never a mix.
public struct SnapshotFile: Sendable {
    public let directory: String
    public var path: String { directory + "/writer-state.json" }
    var temporaryPath: String { path + ".tmp" }

    /// - Parameter directory: where the file lives; ``save(_:)`` creates it.
    public init(directory: String) {
        self.directory = directory
    }

    public enum LoadResult: Sendable {
        case restored(Snapshot)
        case missing
        case corrupt(reason: String)
    }

    /// Reads the saved snapshot. Never throws: a missing file is `.missing`,
    /// and one that cannot be read or decoded is `.corrupt` with the reason;
    /// the caller logs it and starts fresh.
    public func load() -> LoadResult {
        var st = stat()
        guard stat(path, &st) == 0 else {
            return errno == ENOENT ? .missing : .corrupt(reason: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .corrupt(reason: "\(path) is not a regular file") }
        guard Int(st.st_size) <= Self.maxFileBytes else {
            return .corrupt(reason: "\(path) is \(st.st_size) bytes, more than a snapshot can be (at most \(Self.maxFileBytes))")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            return .corrupt(reason: "cannot read \(path): \(error)")
        }
        do {
            let snapshot = try JSONDecoder().decode(Snapshot.self, from: data)
            guard snapshot.version > 0 else {
                return .corrupt(reason: "\(path) holds version 0, which no store assigns")
            }
            // A restart continues at version + 1 in epoch + 1 or later: both must stay plausible.
            guard snapshot.version < VersionTracker.plausibleLimit - 1, snapshot.epoch < VersionTracker.plausibleLimit - 1 else {
                return .corrupt(reason: "\(path) holds version \(snapshot.version) of epoch \(snapshot.epoch), "
                    + "beyond what any writer reaches (both stay below 2^53)")
            }
            return .restored(snapshot)
        } catch {
            return .corrupt(reason: "cannot decode \(path): \(error)")
        }
    }

    /// The largest state file read: a snapshot's payload is at most 1 MiB (base64 in
    /// the JSON) and its history at most 1 024 transitions.
    public static let maxFileBytes = 8 << 20

    /// Saves `snapshot` atomically, replacing the previous one.
    ///
    /// - Throws: ``SnapshotFileError`` naming the path and the failed step.
    public func save(_ snapshot: Snapshot) throws(SnapshotFileError) {
        let data: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            data = try encoder.encode(snapshot)
        } catch {
            throw SnapshotFileError(code: .encode, path: path, errno: 0, detail: "\(error)")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SnapshotFileError(code: .createDirectory, path: directory, errno: 0, detail: "\(error)")
        }
        try writeSynced(data, to: temporaryPath)
        guard rename(temporaryPath, path) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw SnapshotFileError(code: .rename, path: path, errno: code, detail: nil)
        }
        try syncDirectory()
    }

    private func writeSynced(_ data: Data, to file: String) throws(SnapshotFileError) {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SnapshotFileError(code: .write, path: file, errno: errno, detail: nil) }
        var failure: SnapshotFileError?
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = SnapshotFileError(code: .write, path: file, errno: errno, detail: nil)
                    return
                }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 {
            failure = SnapshotFileError(code: .sync, path: file, errno: errno, detail: nil)
        }
        close(fd)
        if let failure {
            unlink(file)
            throw failure
        }
    }

    private func syncDirectory() throws(SnapshotFileError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SnapshotFileError(code: .sync, path: directory, errno: errno, detail: nil) }
        defer { close(fd) }
        guard fsync(fd) == 0 else {
            throw SnapshotFileError(code: .sync, path: directory, errno: errno, detail: nil)
        }
    }
}
