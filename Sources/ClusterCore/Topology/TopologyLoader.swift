import Foundation

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
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path)
                ? "cannot read the file (\(error.localizedDescription))"
                : "no such file"
            throw TopologyError(file: path, issues: [TopologyIssue(path: "", message: reason)])
        }
        return try parse(data, file: path)
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
