import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A run's private temporary directory (the ipc endpoints' sockets):
/// `clustersim-run-<pid>-XXXXXX` in the system's temporary directory, made
/// by `mkdtemp(3)` (a name no one can predict or plant beforehand, mode
/// 0700), removed at the end of the run, and by the next run when the
/// orchestrator that made it was killed.
struct PrivateDirectory: Sendable {
    static let prefix = "clustersim-run-"

    let path: String

    /// - Throws: `PrivateDirectoryError` when `mkdtemp` fails.
    init(parent: String = NSTemporaryDirectory()) throws(PrivateDirectoryError) {
        var template = Array(((parent as NSString).appendingPathComponent("\(Self.prefix)\(getpid())-XXXXXX")).utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw PrivateDirectoryError(parent: parent, errno: errno)
        }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Removes the private directories of orchestrators that are no longer
    /// running (a SIGKILLed run cannot clean up), and those of the form
    /// `clustersim-<pid>` earlier versions made.
    /// - Returns: the paths removed.
    static func removeLeftovers(parent: String = NSTemporaryDirectory(),
                                isAlive: (Int32) -> Bool = NetnsNetwork.orchestratorAlive) -> [String] {
        var removed: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
            guard let pid = owner(of: name), !isAlive(pid) else { continue }
            let path = (parent as NSString).appendingPathComponent(name)
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed
    }

    /// The orchestrator pid in a private directory's name, or nil for any other name.
    static func owner(of name: String) -> Int32? {
        if name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), rest[rest.index(after: dash)...].count == 6 else { return nil }
            return Int32(rest[..<dash])
        }
        // The older, predictable form: exactly `clustersim-<digits>`.
        let old = "clustersim-"
        guard name.hasPrefix(old) else { return nil }
        let digits = name.dropFirst(old.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int32(digits)
    }
}

/// The private directory could not be made.
struct PrivateDirectoryError: Error, CustomStringConvertible {
    let parent: String
    let errno: Int32
    var description: String {
        "cannot create a private temporary directory in \(parent): \(String(cString: strerror(errno)))"
    }
}
