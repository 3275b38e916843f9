import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads, validates and writes topology files.
public enum TopologyLoader {
    /// Loads and validates the topology file at `path`.
    ///
    /// - Parameter path: a JSON file; relative paths are from the working directory.
    /// - Returns: the topology with every default filled in.
    /// - Throws: ``TopologyError`` naming the file and every problem at once:
    ///   an unreadable file, malformed JSON (with line and column), schema
    ///   problems and failed cross-checks.
    public static func load(path: String) throws -> Topology {
        try parse(try read(path: path), file: path)
    }

    /// The largest topology file read. The biggest useful topology is a few
    /// kilobytes; a larger file is a mistake that would only cost memory.
    public static let maxFileBytes = 4 << 20

    /// The bytes of a topology file: a regular file of at most ``maxFileBytes``.
    static func read(path: String) throws -> Data {
        func refuse(_ reason: String) -> TopologyError {
            TopologyError(file: path, issues: [TopologyIssue(path: "", message: reason)])
        }
        var st = stat()
        guard stat(path, &st) == 0 else {
            let e = errno
            throw refuse(e == ENOENT ? "no such file" : "cannot read the file (\(String(cString: strerror(e))))")
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            let kind = type == S_IFDIR ? "a directory" : type == S_IFIFO ? "a FIFO" : type == S_IFCHR ? "a character device"
                : type == S_IFSOCK ? "a socket" : type == S_IFBLK ? "a block device" : "not a regular file"
            throw refuse("is \(kind), expected a regular file holding a JSON topology")
        }
        guard Int(st.st_size) <= maxFileBytes else {
            throw refuse("is \(st.st_size) bytes, expected at most \(maxFileBytes) (a topology is a few kilobytes of JSON)")
        }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw refuse("cannot read the file (\(error.localizedDescription))")
        }
    }

    /// Parses and validates a topology from JSON text.
    ///
    /// - Parameters:
    ///   - data: UTF-8 JSON.
    ///   - file: the name error messages use for the source.
    /// - Returns: the topology with every default filled in.
    /// - Throws: ``TopologyError`` with every problem found.
    public static func parse(_ data: Data, file: String) throws -> Topology {
        var parser = JSONParser(Array(data))
        if parser.isBlank {
            throw TopologyError(file: file, issues: [
                TopologyIssue(path: "", message: "the file is empty, expected a JSON object describing a topology"),
            ])
        }
        let root: JSONNode
        do {
            root = try parser.parseDocument()
        } catch {
            throw TopologyError(file: file, issues: [
                TopologyIssue(path: "", message: "line \(error.line), column \(error.column): invalid JSON: \(error.message)"),
            ])
        }
        let builder = TopologyBuilder()
        let topology = builder.completeTopology(root, path: "")
        if !builder.issues.isEmpty {
            throw TopologyError(file: file, issues: builder.issues)
        }
        return topology
    }

    /// Encodes a topology as pretty JSON with sorted keys and every default
    /// written out; ``parse(_:file:)`` reads it back to an equal topology.
    ///
    /// - Throws: an `EncodingError` (only for non-finite numbers, which validation rejects).
    public static func encode(_ topology: Topology) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(topology)
        data.append(UInt8(ascii: "\n"))
        return data
    }
}
