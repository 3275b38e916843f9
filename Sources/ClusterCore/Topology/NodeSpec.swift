/// One process of a topology.
public struct NodeSpec: Sendable, Hashable {
    /// Unique in the topology: `"writer"`, `"<group>-<i>"`, or a named group of one's name.
    public let name: String
    /// The group's name; `"writer"` for the writer.
    public let group: String
    /// 1-based position within the group; 0 for the writer.
    public let index: Int
    public let role: NodeRole
    /// The reader group's settings; nil for the writer.
    public let reader: ReaderGroup?

    public init(name: String, group: String, index: Int, role: NodeRole, reader: ReaderGroup?) {
        self.name = name
        self.group = group
        self.index = index
        self.role = role
        self.reader = reader
    }
}

extension Topology {
    /// The writer's node name, reserved.
    public static let writerName = "writer"

    /// All nodes, resolved: the writer first (`"writer"`), then every reader
    /// instance, in file order.
    public var nodes: [NodeSpec] {
        var result = [NodeSpec(name: Self.writerName, group: Self.writerName, index: 0, role: .writer, reader: nil)]
        for group in readers {
            for (offset, name) in group.nodeNames.enumerated() {
                result.append(NodeSpec(
                    name: name, group: group.groupName, index: offset + 1, role: .reader(group.role), reader: group))
            }
        }
        return result
    }

    /// The node called `name`, if there is one.
    public func node(named name: String) -> NodeSpec? {
        nodes.first { $0.name == name }
    }

    /// The reader group called `name`, if there is one.
    public func group(named name: String) -> ReaderGroup? {
        readers.first { $0.groupName == name }
    }

    /// The nodes a fault target or chaos pattern names, in node order.
    ///
    /// - Parameter pattern: `"role:<role>"` (every node of that role, `role:writer`
    ///   included), a name with `*` wildcards (`"cli-*"`), a node name, or a
    ///   group name (every node of the group).
    /// - Returns: the matching nodes; empty when nothing matches.
    public func nodes(matching pattern: String) -> [NodeSpec] {
        let all = nodes
        if pattern.hasPrefix("role:") {
            let role = pattern.dropFirst("role:".count)
            return all.filter { $0.role.name == role }
        }
        if pattern.contains("*") {
            return all.filter { wildcardMatch(pattern[...], $0.name[...]) }
        }
        if let node = all.first(where: { $0.name == pattern }) {
            return [node]
        }
        return all.filter { $0.group == pattern && $0.role != .writer }
    }

    /// This topology with command-line overrides applied. Call ``validate()``
    /// afterwards: fault times are checked against the new duration.
    public func overriding(duration: TimeSpan?, seed: UInt64?) -> Topology {
        var copy = self
        if let duration { copy.duration = duration }
        if let seed { copy.seed = seed }
        return copy
    }
}

/// Glob match where `*` matches any run of characters, including none.
func wildcardMatch(_ pattern: Substring, _ text: Substring) -> Bool {
    guard let star = pattern.firstIndex(of: "*") else { return pattern == text }
    let prefix = pattern[..<star]
    guard text.hasPrefix(prefix) else { return false }
    let rest = pattern[pattern.index(after: star)...]
    var candidate = text.dropFirst(prefix.count)
    while true {
        if wildcardMatch(rest, candidate) { return true }
        if candidate.isEmpty { return false }
        candidate = candidate.dropFirst()
    }
}
