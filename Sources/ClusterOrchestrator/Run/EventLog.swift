import ClusterCore
import Foundation

/// `events.jsonl`: one JSON object per lifecycle event or fault, with its actual time.
///
/// Each line carries `wall_ns` and `event`, the node it concerns when there
/// is one, and the event's details as strings; keys are sorted, so two runs'
/// files compare line by line.
final class EventLog {
    private let handle: FileHandle

    /// Creates (or empties) the file at `path`.
    /// - Throws: `CocoaError(.fileWriteUnknown)` naming the path when it cannot be opened for writing.
    init(path: String) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)   // opening it says whether it worked
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle = h
    }

    deinit { try? handle.close() }

    /// Appends one event.
    func log(_ kind: String, node: String? = nil, detail: [String: String] = [:]) {
        var obj: [String: Any] = ["wall_ns": SystemClock.wallNanos(), "event": kind]
        if let node { obj["node"] = node }
        for (k, v) in detail { obj[k] = v }
        guard var data = try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) else { return }
        data.append(0x0A)
        handle.write(data)
    }
}
