/// Builds topology values from parsed JSON, collecting every problem as a
/// ``TopologyIssue`` instead of stopping at the first.
///
/// It checks shape: unknown and duplicate keys, types, enum values, duration
/// strings, required keys and role-only keys. Ranges and cross-references are
/// checked on the typed value by ``Topology/validate()``; where a value could
/// not be read a placeholder stands in, and validation issues under a path
/// already reported are dropped so one mistake is reported once.
final class TopologyBuilder {
    private(set) var issues: [TopologyIssue] = []
    /// Set when a reader group's role, name or count could not be read, so
    /// node names are unreliable and reference checks would only add noise.
    private var nodeNamesUnreliable = false
    /// Set when the document cannot be a topology of this schema at all, so
    /// validating the placeholder would only add noise.
    private var abandoned = false

    /// Issues kept: a file can hold millions of mistakes (a huge array of
    /// wrong values), and listing past this many helps nobody.
    static let maxIssues = 1_000

    /// Issues not kept past ``maxIssues``.
    private var dropped = 0

    func add(_ path: String, _ message: String) {
        guard issues.count < Self.maxIssues else { dropped += 1; return }
        issues.append(TopologyIssue(path: path, message: message))
    }

    /// Builds a topology and validates it, adding the validation issues.
    func completeTopology(_ node: JSONNode, path: String) -> Topology {
        let topology = topology(node, path: path)
        if issues.isEmpty {
            issues = topology.validationIssues(checkReferences: true)
        } else if !abandoned {
            let reported = issues.map(\.path)
            for issue in topology.validationIssues(checkReferences: !nodeNamesUnreliable)
            where !reported.contains(where: { covers($0, issue.path) }) {
                add(issue.path, issue.message)
            }
        }
        // File order: by the position of the value each issue is about.
        issues = issues.enumerated()
            .map { (position: position(of: $1.path, in: node), order: $0, issue: $1) }
            .sorted { ($0.position.line, $0.position.column, $0.order) < ($1.position.line, $1.position.column, $1.order) }
            .map(\.issue)
        if dropped > 0 {
            issues.append(TopologyIssue(path: "", message: "stopped after \(Self.maxIssues) problems; \(dropped) more were not recorded"))
        }
        return topology
    }

    /// Where the value at `path` starts, or its nearest existing ancestor
    /// (a missing key is reported where its object starts).
    private func position(of path: String, in root: JSONNode) -> (line: Int, column: Int) {
        var node = root
        var rest = Substring(path)
        walk: while !rest.isEmpty {
            if rest.first == "[" {
                guard let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]),
                      case .array(let elements) = node.value, elements.indices.contains(index)
                else { break walk }
                node = elements[index]
                rest = rest[rest.index(after: close)...]
            } else {
                if rest.first == "." { rest = rest.dropFirst() }
                let end = rest.firstIndex { $0 == "." || $0 == "[" } ?? rest.endIndex
                let key = rest[..<end]
                guard case .object(let members) = node.value, let member = members.last(where: { $0.key == key })
                else { break walk }
                node = member.value
                rest = rest[end...]
            }
        }
        return (node.line, node.column)
    }

    /// Decodes a topology type through the builder for `Decodable`.
    static func decode<T>(
        from decoder: any Decoder, _ build: (TopologyBuilder, JSONNode, String) -> T?
    ) throws -> T {
        let node = try JSONNode(from: decoder)
        let path = decoder.codingPath.reduce(into: "") { path, key in
            path = key.intValue.map { "\(path)[\($0)]" } ?? join(path, key.stringValue)
        }
        let builder = TopologyBuilder()
        let value = build(builder, node, path)
        guard let value, builder.issues.isEmpty else {
            throw TopologyError(file: "<decoded>", issues: builder.issues)
        }
        return value
    }

    // MARK: Objects and scalars

    /// The members of an object whose keys must come from `K`.
    struct Fields<K: CodingKey & CaseIterable> {
        let builder: TopologyBuilder
        let path: String
        let members: [String: JSONNode]

        func has(_ key: K) -> Bool { members[key.stringValue] != nil }

        func path(_ key: K) -> String { join(path, key.stringValue) }

        /// The value at `key`; nil when absent or unreadable (then an issue was added).
        func optional<T>(_ key: K, _ read: (JSONNode, String) -> T?) -> T? {
            members[key.stringValue].flatMap { read($0, path(key)) }
        }

        /// The value at `key`, or `defaultValue` when absent or unreadable.
        func value<T>(_ key: K, default defaultValue: T, _ read: (JSONNode, String) -> T?) -> T {
            optional(key, read) ?? defaultValue
        }

        /// The value at `key`; when absent an issue says what was expected.
        func required<T>(_ key: K, expected: String, _ read: (JSONNode, String) -> T?) -> T? {
            guard members[key.stringValue] != nil else {
                builder.add(path(key), "missing required key, expected \(expected)")
                return nil
            }
            return optional(key, read)
        }
    }

    func fields<K>(_ node: JSONNode, _ path: String, _ keys: K.Type) -> Fields<K>? {
        guard case .object(let members) = node.value else {
            add(path, "found \(node.found), expected an object")
            return nil
        }
        let allowed = K.allCases.map(\.stringValue)
        return Fields(builder: self, path: path, members: checkedMembers(members, path, allowed: allowed))
    }

    /// Members whose keys are allowed, with unknown and repeated keys reported.
    func checkedMembers(
        _ members: [(key: String, value: JSONNode)], _ path: String, allowed: [String]
    ) -> [String: JSONNode] {
        var result: [String: JSONNode] = [:]
        for (key, value) in members {
            let keyPath = join(path, key)
            if let first = result[key] {
                add(keyPath, "duplicate key (first at line \(first.line)), expected each key once")
            } else if allowed.contains(key) {
                result[key] = value
            } else {
                let hint = closest(to: key, in: allowed).map { " (did you mean \(jsonQuoted($0))?)" } ?? ""
                add(keyPath, "unknown key\(hint); expected one of \(allowed.joined(separator: ", "))")
            }
        }
        return result
    }

    func string(_ node: JSONNode, _ path: String) -> String? {
        guard case .string(let s) = node.value else {
            add(path, "found \(node.found), expected a string")
            return nil
        }
        return s
    }

    func bool(_ node: JSONNode, _ path: String) -> Bool? {
        guard case .bool(let b) = node.value else {
            add(path, "found \(node.found), expected true or false")
            return nil
        }
        return b
    }

    func double(_ node: JSONNode, _ path: String) -> Double? {
        guard case .number(let text) = node.value else {
            add(path, "found \(node.found), expected a number")
            return nil
        }
        guard let d = Double(text), d.isFinite else {
            add(path, "found a number (\(text)) too large, expected a finite number")
            return nil
        }
        return d
    }

    func int(_ node: JSONNode, _ path: String) -> Int? {
        integer(node, path, expected: "an integer")
    }

    func uint64(_ node: JSONNode, _ path: String) -> UInt64? {
        integer(node, path, expected: "an integer 0 ... \(UInt64.max)")
    }

    /// A whole number that fits `T`; `1e3` and `10.0` are whole numbers too.
    private func integer<T: FixedWidthInteger>(_ node: JSONNode, _ path: String, expected: String) -> T? {
        if case .number(let text) = node.value {
            if let value = T(text) { return value }
            if let d = Double(text), d.rounded() == d, let value = T(exactly: d) { return value }
        }
        add(path, "found \(node.found), expected \(expected)")
        return nil
    }

    func span(_ node: JSONNode, _ path: String) -> TimeSpan? {
        switch node.value {
        case .string(let text):
            do {
                return try TimeSpan(parsing: text)
            } catch {
                add(path, error.description)
                return nil
            }
        case .number(let text):
            add(path, "found a number (\(text)), expected a duration string with a unit, e.g. \"\(text)s\" or \"\(text)ms\"")
            return nil
        default:
            add(path, "found \(node.found), expected a duration string such as \"250ms\"")
            return nil
        }
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ node: JSONNode, _ path: String) -> E?
    where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
        guard case .string(let s) = node.value else {
            add(path, "found \(node.found), expected one of \(allowed)")
            return nil
        }
        guard let value = E(rawValue: s) else {
            add(path, "\(jsonQuoted(s)) is not one of \(allowed)")
            return nil
        }
        return value
    }

    /// An array whose elements `element` reads; nil when any element is
    /// unreadable. Readers of indexed elements return placeholders instead of
    /// nil, so later issues keep the right index.
    func array<T>(_ element: @escaping (JSONNode, String) -> T?) -> (JSONNode, String) -> [T]? {
        { node, path in
            guard case .array(let elements) = node.value else {
                self.add(path, "found \(node.found), expected an array")
                return nil
            }
            let values = elements.enumerated().map { element($1, "\(path)[\($0)]") }
            return values.contains { $0 == nil } ? nil : values.map { $0! }
        }
    }

    // MARK: Topology types

    func topology(_ node: JSONNode, path: String) -> Topology {
        let placeholder = Topology(name: "", writer: WriterSpec(rate: 1), readers: [])
        // Another schema's keys would only produce noise: report its version alone.
        if case .object(let members) = node.value,
           let versionNode = members.first(where: { $0.key == Topology.CodingKeys.schemaVersion.stringValue })?.value,
           case .number(let text) = versionNode.value, let version = Int(text),
           !Topology.supportedSchemaVersions.contains(version) {
            add(join(path, Topology.CodingKeys.schemaVersion.stringValue), Topology.versionMessage(version))
            abandoned = true
            return placeholder
        }
        guard let f = fields(node, path, Topology.CodingKeys.self) else {
            abandoned = true
            return placeholder
        }
        let version = f.value(.schemaVersion, default: 1, int)
        let readersExpected = "an array of reader groups, e.g. [{\"role\": \"cli\", \"count\": 3}]"
        let readers = f.required(.readers, expected: readersExpected, array { self.readerGroup($0, path: $1) })
        if readers == nil { nodeNamesUnreliable = true }
        return Topology(
            schemaVersion: version,
            name: f.required(.name, expected: "a string of letters, digits, '.', '_' or '-'", string) ?? "",
            description: f.optional(.description, string),
            seed: f.value(.seed, default: 1, uint64),
            duration: f.value(.duration, default: .seconds(10), span),
            warmup: f.value(.warmup, default: .zero, span),
            readyTimeout: f.value(.readyTimeout, default: .seconds(20), span),
            registerTimeout: f.value(.registerTimeout, default: .minutes(2), span),
            launcher: f.value(.launcher, default: .local, enumeration),
            cpuPinning: f.value(.cpuPinning, default: .off, enumeration),
            writer: f.required(.writer, expected: "an object such as {\"rate\": 1000}") { self.writer($0, path: $1) }
                ?? placeholder.writer,
            readers: readers ?? [],
            faults: f.value(.faults, default: [], array { self.fault($0, path: $1) }),
            chaos: f.optional(.chaos) { self.chaos($0, path: $1) },
            slo: f.value(.slo, default: SLOSpec()) { self.slo($0, path: $1) },
            security: f.optional(.security) { self.security($0, path: $1) }
        )
    }

    func writer(_ node: JSONNode, path: String) -> WriterSpec? {
        guard let f = fields(node, path, WriterSpec.CodingKeys.self) else { return nil }
        // `coalesce: true` is the older spelling of the newest-state promise.
        let coalesce = f.value(.coalesce, default: false, bool)
        let promiseGiven: DeliveryPromise? = f.optional(.promise, enumeration)
        if coalesce, promiseGiven == .everyVersion {
            add(f.path(.coalesce), "true asks for the newest state only, but promise is \"every-version\"; expected false, or promise \"newest-state\"")
        }
        let promise = promiseGiven ?? (coalesce ? .newestState : .everyVersion)
        let batch = f.optional(.batch) { self.batchSetting($0, path: $1) }
        if promise == .newestState, case .some(.some) = batch {
            add(f.path(.batch), "batching keeps every version, but the promise is \"newest-state\" (the writer coalesces instead); expected false or no batch")
        }
        return WriterSpec(
            rate: f.required(.rate, expected: "a number of snapshots per second", double) ?? 1,
            payloadBytes: f.value(.payloadBytes, default: 256, int),
            transport: f.value(.transport, default: .tcp, enumeration),
            sndhwm: f.value(.sndhwm, default: WriterSpec.defaultSndhwm, int),
            sndbuf: f.optional(.sndbuf, int),
            nodrop: f.value(.nodrop, default: false, bool),
            heartbeat: f.value(.heartbeat, default: .seconds(1), span),
            historyLimit: f.value(.historyLimit, default: 16, int),
            persist: f.value(.persist, default: false, bool),
            events: f.optional(.events, array { self.scriptedEvent($0, path: $1) }),
            coalesce: promise == .newestState,
            promise: promise,
            batch: promise == .newestState ? nil : (batch ?? WriterSpec.defaultBatch),
            ioThreads: f.value(.ioThreads, default: 1, int),
            publisher: f.value(.publisher, default: .libzmq, enumeration),
            nice: f.optional(.nice, int),
            scheduling: f.value(.scheduling, default: .normal, enumeration)
        )
    }

    /// `writer.batch`: `false` (off: nil), `true` (the default settings) or an
    /// object; the outer nil when it cannot be read.
    func batchSetting(_ node: JSONNode, path: String) -> BatchSpec?? {
        switch node.value {
        case .bool(let on): return .some(on ? BatchSpec() : nil)
        case .object: return batchObject(node, path: path).map { .some($0) }
        default:
            add(path, "found \(node.found), expected false, true or an object such as {\"maxCount\": 64, \"maxDelay\": \"1ms\"}")
            return nil
        }
    }

    func batchObject(_ node: JSONNode, path: String) -> BatchSpec? {
        guard let f = fields(node, path, BatchSpec.CodingKeys.self) else { return nil }
        return BatchSpec(maxCount: f.value(.maxCount, default: 64, int), maxDelay: f.value(.maxDelay, default: .zero, span))
    }

    func scriptedEvent(_ node: JSONNode, path: String) -> ScriptedEventSpec {
        let placeholder = ScriptedEventSpec(at: .zero, event: ScriptedEventSpec.validEventNames[0])
        guard let f = fields(node, path, ScriptedEventSpec.CodingKeys.self) else { return placeholder }
        return ScriptedEventSpec(
            at: f.required(.at, expected: "a duration string such as \"1s\"", span) ?? placeholder.at,
            event: f.required(
                .event, expected: "one of \(ScriptedEventSpec.validEventNames.joined(separator: ", "))", string)
                ?? placeholder.event)
    }

    func readerGroup(_ node: JSONNode, path: String) -> ReaderGroup {
        guard let f = fields(node, path, ReaderGroup.CodingKeys.self) else {
            nodeNamesUnreliable = true
            return ReaderGroup(role: .cli)
        }
        let role: ReaderRole? = f.required(
            .role, expected: "one of \(ReaderRole.allCases.map(\.rawValue).joined(separator: ", "))", enumeration)
        let name = f.optional(.name, string)
        let count = f.optional(.count, int)
        if role == nil || (f.has(.name) && name == nil) || (f.has(.count) && count == nil) {
            nodeNamesUnreliable = true
        }
        if let role {
            for (key, onlyRole) in ReaderGroup.roleKeys.sorted(by: { $0.key.stringValue < $1.key.stringValue })
            where onlyRole != role && f.has(key) {
                add(f.path(key), "found on role \(role.rawValue), allowed only on role \(onlyRole.rawValue)")
            }
        }
        return ReaderGroup(
            role: role ?? .cli,
            name: name,
            count: count ?? 1,
            policy: f.value(.policy, default: .drop, enumeration),
            rcvhwm: f.value(.rcvhwm, default: HighWaterMarks.default, int),
            rcvbuf: f.optional(.rcvbuf, int),
            subscriber: f.value(.subscriber, default: .libzmq, enumeration),
            processingDelay: f.optional(.processingDelay) { self.delay($0, path: $1) },
            lagLimit: f.value(.lagLimit, default: .milliseconds(500), span),
            startAt: f.optional(.startAt, span),
            via: f.optional(.via, string),
            load: f.optional(.load) { self.queryLoad($0, path: $1) },
            workers: f.value(.workers, default: 4, int),
            historySize: f.value(.historySize, default: 256, int),
            relay: f.optional(.relay) { self.relay($0, path: $1) },
            logFlushEvery: f.value(.logFlushEvery, default: 256, int),
            nice: f.optional(.nice, int),
            scheduling: f.value(.scheduling, default: .normal, enumeration)
        )
    }

    func delay(_ node: JSONNode, path: String) -> DelaySpec? {
        switch node.value {
        case .string:
            return span(node, path).map(DelaySpec.fixed)
        case .object:
            break
        default:
            add(path, "found \(node.found), expected a duration string such as \"2ms\" or an object with \"distribution\"")
            return nil
        }
        guard let f = fields(node, path, DelaySpec.CodingKeys.self) else { return nil }
        let distribution: DelaySpec.Distribution = f.value(.distribution, default: .fixed, enumeration)
        func notUsed(_ key: DelaySpec.CodingKeys, _ why: String) {
            if f.has(key) { add(f.path(key), "not used by distribution \(distribution.rawValue) (\(why))") }
        }
        let duration = "a duration string such as \"2ms\""
        switch distribution {
        case .fixed:
            notUsed(.min, "the delay is always mean")
            notUsed(.max, "the delay is always mean")
            return f.required(.mean, expected: duration, span).map(DelaySpec.fixed)
        case .uniform:
            notUsed(.mean, "its mean is the midpoint of min and max")
            let min = f.required(.min, expected: duration, span)
            let max = f.required(.max, expected: duration, span)
            guard let min, let max else { return nil }
            return .uniform(min: min, max: max)
        case .exponential:
            notUsed(.min, "an exponential delay starts at 0")
            let mean = f.required(.mean, expected: duration, span)
            return mean.map { .exponential(mean: $0, max: f.optional(.max, span)) }
        }
    }

    func queryLoad(_ node: JSONNode, path: String) -> QueryLoad? {
        guard let f = fields(node, path, QueryLoad.CodingKeys.self) else { return nil }
        let clients = f.required(.clients, expected: "an integer 1 ... 1000", int)
        let rate = f.required(.rate, expected: "a number of requests per second", double)
        let mix = f.optional(.mix) { node, path -> [String: Double]? in
            guard case .object(let members) = node.value else {
                self.add(path, "found \(node.found), expected an object of weights such as {\"getLatest\": 3, \"health\": 1}")
                return nil
            }
            return self.checkedMembers(members, path, allowed: QueryLoad.requestKinds)
                .reduce(into: [:]) { weights, member in
                    weights[member.key] = self.double(member.value, join(path, member.key))
                }
        }
        guard let clients, let rate else { return nil }
        return QueryLoad(clients: clients, rate: rate, timeout: f.value(.timeout, default: .seconds(1), span), mix: mix)
    }

    func relay(_ node: JSONNode, path: String) -> RelaySpec? {
        guard let f = fields(node, path, RelaySpec.CodingKeys.self) else { return nil }
        return RelaySpec(
            delay: f.value(.delay, default: .zero, span),
            jitter: f.value(.jitter, default: .zero, span),
            loss: f.value(.loss, default: 0, double)
        )
    }

    func fault(_ node: JSONNode, path: String) -> FaultSpec {
        let placeholder = FaultSpec(at: .zero, action: .kill, target: Topology.writerName)
        guard let f = fields(node, path, FaultSpec.CodingKeys.self) else { return placeholder }
        let at = f.required(.at, expected: "a duration string such as \"10s\"", span)
        let action: FaultAction? = f.required(
            .action, expected: "one of \(FaultAction.allCases.map(\.rawValue).joined(separator: ", "))", enumeration)
        let target = f.required(.target, expected: "a node name such as \"cli-3\" or \"writer\"", string)
        return FaultSpec(
            at: at ?? placeholder.at, action: action ?? placeholder.action, target: target ?? placeholder.target,
            for: f.optional(.for, span), loss: f.optional(.loss, double),
            bandwidth: f.optional(.bandwidth, string), delay: f.optional(.delay, span), threads: f.optional(.threads, int))
    }

    func chaos(_ node: JSONNode, path: String) -> ChaosSpec? {
        guard let f = fields(node, path, ChaosSpec.CodingKeys.self) else { return nil }
        let rate = f.required(.rate, expected: "a number of faults per minute", double)
        let actions: [FaultAction]? = f.required(
            .actions, expected: "an array of actions such as [\"kill\", \"pause\"]", array(enumeration))
        let targets = f.required(.targets, expected: "an array of node patterns such as [\"role:cli\"]", array(string))
        let spec = ChaosSpec(
            rate: rate ?? 1, actions: actions ?? [], targets: targets ?? [],
            start: f.optional(.start, span), stop: f.optional(.stop, span),
            pauseFor: f.value(.pauseFor, default: .seconds(1), span), seed: f.optional(.seed, uint64))
        guard rate != nil, actions != nil, targets != nil else { return nil }
        return spec
    }

    func latencySLO(_ node: JSONNode, path: String) -> LatencySLO? {
        guard let f = fields(node, path, LatencySLO.CodingKeys.self) else { return nil }
        return LatencySLO(p50Ms: f.optional(.p50Ms, double), p99Ms: f.optional(.p99Ms, double), maxMs: f.optional(.maxMs, double))
    }

    func slo(_ node: JSONNode, path: String) -> SLOSpec? {
        guard let f = fields(node, path, SLOSpec.CodingKeys.self) else { return nil }
        let perRole = f.optional(.perRole) { node, path -> [ReaderRole: LatencySLO]? in
            guard case .object(let members) = node.value else {
                self.add(path, "found \(node.found), expected an object keyed by role, such as {\"query\": {\"p99Ms\": 10}}")
                return nil
            }
            var result: [ReaderRole: LatencySLO] = [:]
            for (key, value) in members {
                let rolePath = join(path, key)
                guard let role: ReaderRole = self.enumeration(JSONNode(.string(key)), rolePath) else { continue }
                if result[role] != nil {
                    self.add(rolePath, "duplicate key, expected each role once")
                } else if let slo = self.latencySLO(value, path: rolePath) {
                    result[role] = slo
                }
            }
            return result
        }
        return SLOSpec(
            p50LatencyMs: f.optional(.p50LatencyMs, double),
            p99LatencyMs: f.optional(.p99LatencyMs, double),
            maxLatencyMs: f.optional(.maxLatencyMs, double),
            perRole: perRole,
            maxLossFastReaders: f.optional(.maxLossFastReaders, int),
            maxReaderRssMB: f.optional(.maxReaderRssMB, double),
            maxMemoryGrowthMB: f.optional(.maxMemoryGrowthMB, double),
            maxBusyRatio: f.optional(.maxBusyRatio, double),
            maxConvergeMs: f.optional(.maxConvergeMs, double),
            minDeliveryRatio: f.optional(.minDeliveryRatio, double)
        )
    }
}

/// `path.key`, or `key` at the root.
/// `path.key`; a key that is not a plain name (letters, digits, `_`, `-`) is
/// quoted as JSON, `path["a b"]`, so that no key can break a message's line.
func join(_ path: String, _ key: String) -> String {
    let plain = !key.isEmpty && key.unicodeScalars.allSatisfy {
        ($0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil)) || $0 == "_" || $0 == "-"
    }
    guard plain else { return "\(path)[\(jsonQuoted(key))]" }
    return path.isEmpty ? key : "\(path).\(key)"
}

/// True when an issue at `reported` already explains an issue at `path`:
/// the same place or somewhere inside it.
func covers(_ reported: String, _ path: String) -> Bool {
    reported.isEmpty || path == reported || path.hasPrefix(reported + ".") || path.hasPrefix(reported + "[")
}

/// The allowed key closest to a mistyped one, when it is close enough to be a likely typo.
func closest(to key: String, in candidates: [String]) -> String? {
    let lowered = key.lowercased()
    let scored = candidates.map { ($0, editDistance(lowered, $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    let limit = key.count <= 3 ? 1 : (key.count <= 6 ? 2 : 3)
    return best.1 <= limit ? best.0 : nil
}

/// Levenshtein distance between two strings, by characters.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
