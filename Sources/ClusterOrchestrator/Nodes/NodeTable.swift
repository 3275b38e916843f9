import ClusterCore
import OrderedCollections

/// The nodes of a run by name, in topology order (then query load
/// generators, then cpu hogs as faults start them): the order of the
/// report's node list.
///
/// Nodes are values: they are changed in place through ``modify(_:_:)`` or
/// by position, never copied out and written back (a copy of a node's sample
/// arrays would be paid per sample).
struct NodeTable: Sendable {
    private(set) var byName: OrderedDictionary<String, ManagedNode>

    init(_ nodes: [ManagedNode] = []) {
        byName = OrderedDictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0) })
    }

    subscript(name: String) -> ManagedNode? { byName[name] }

    /// The nodes in order.
    var nodes: OrderedDictionary<String, ManagedNode>.Values { byName.values }

    /// Positions for ``subscript(position:)``.
    var indices: Range<Int> { byName.values.indices }

    /// The node at a position, changed in place.
    subscript(position i: Int) -> ManagedNode {
        _read { yield byName.values[i] }
        _modify { yield &byName.values[i] }
    }

    var count: Int { byName.count }

    /// Adds a node at the end.
    mutating func append(_ node: ManagedNode) {
        byName[node.name] = node
    }

    /// Changes the node called `name` in place.
    /// - Returns: what `body` returned; nil when there is no such node.
    @discardableResult
    mutating func modify<R>(_ name: String, _ body: (inout ManagedNode) -> R) -> R? {
        guard let i = byName.index(forKey: name) else { return nil }
        return body(&byName.values[i])
    }

    /// Whether every node that starts at once (no `startAt`) said READY.
    /// Asked on every turn of the loop while the run starts: no node is copied.
    var startersReady: Bool {
        indices.allSatisfy { self[position: $0].plan.startAt != nil || self[position: $0].lifecycle.isReady }
    }

    /// Whether every node that starts at once has registered (said HELLO) at least once.
    var startersRegistered: Bool {
        indices.allSatisfy { self[position: $0].plan.startAt != nil || self[position: $0].lifecycle.hasRegistered }
    }

    /// The nodes that start at once and never registered.
    var startersNotRegistered: [ManagedNode] {
        nodes.filter { $0.plan.startAt == nil && !$0.lifecycle.hasRegistered }
    }

    /// The nodes that start at once and are not ready.
    var startersNotReady: [ManagedNode] {
        nodes.filter { $0.plan.startAt == nil && !$0.lifecycle.isReady }
    }

    /// The first node that starts at once and ended without ever being ready
    /// (it crashed at start, or could not be launched); nil when none did.
    var starterEndedBeforeReady: ManagedNode? {
        for i in indices {
            let n = self[position: i]
            if n.plan.startAt == nil, case .exited = n.lifecycle, !n.history.readyEver { return n }
        }
        return nil
    }

    /// How many nodes start at once.
    var starterCount: Int { nodes.reduce(0) { $0 + ($1.plan.startAt == nil ? 1 : 0) } }

    /// Whether every node has ended or sent its final dump. Asked on every turn of the loop while the dumps come.
    var allFinished: Bool { indices.allSatisfy { !self[position: $0].isAlive || self[position: $0].lifecycle.finalReceived } }

    /// The groups of all nodes, sorted.
    var groups: [String] { Set(nodes.map(\.group)).sorted() }
}
