/// Ranges and cross-checks of a typed topology.
extension Topology {
    /// The longest run a topology may ask for.
    public static let maxDuration = TimeSpan(nanoseconds: 24 * 3_600_000_000_000)
    /// The most processes a topology may ask for. Every node is a process of
    /// 20–30 MB; before launching, the orchestrator also checks what the
    /// machine at hand can hold (memory, processes, file descriptors).
    public static let maxNodes = 5_000
    /// The lowest rate a writer or load generator runs at: one message every 1 000 s.
    public static let minRate = 0.001
    /// The name prefix of the processes a `cpu-hog` fault starts (`cpu-hog-1`, …).
    public static let cpuHogPrefix = "cpu-hog-"

    /// Checks ranges and cross-references: fault targets and times against
    /// the nodes and the duration, `via` against relay groups, unique names,
    /// role-only settings, chaos patterns and SLO values.
    ///
    /// ``TopologyLoader`` runs this on every file; call it again after changing
    /// a topology in code, e.g. after ``overriding(duration:seed:)``.
    /// - Returns: every problem found, empty when the topology is valid.
    public func validate() -> [TopologyIssue] {
        validationIssues(checkReferences: true)
    }

    static func versionMessage(_ version: Int) -> String {
        let supported = supportedSchemaVersions.map(String.init).joined(separator: ", ")
        return "\(version) is not supported, expected \(supported) (the schema version this build reads)"
    }

    /// - Parameter checkReferences: false when node names are unreliable
    ///   because a group could not be read; checks that depend on them are skipped.
    func validationIssues(checkReferences: Bool) -> [TopologyIssue] {
        var v = Validator()
        if !Self.supportedSchemaVersions.contains(schemaVersion) {
            v.add("version", Self.versionMessage(schemaVersion))
        }
        v.checkName(name, "name")
        v.checkSpan(duration, "duration", above: .zero, atMost: Self.maxDuration)
        v.checkSpan(warmup, "warmup", atMost: .minutes(60))
        v.checkSpan(readyTimeout, "readyTimeout", above: .zero, atMost: .minutes(60))
        v.checkSpan(registerTimeout, "registerTimeout", above: .zero, atMost: .minutes(60))
        validateWriter(&v)
        if readers.isEmpty {
            v.add("readers", "found no reader groups, expected at least one")
        }
        let nodeCount = 1 + readers.reduce(0) { $0 + min(max(0, $1.count), ReaderGroup.countRange.upperBound) }
        if nodeCount > Self.maxNodes {
            v.add("readers", "the groups add up to \(nodeCount) nodes, expected at most \(Self.maxNodes) "
                + "(each node is a process of 20–30 MB; the orchestrator checks what this machine can hold before launching)")
        }
        for (i, group) in readers.enumerated() {
            validate(group, "readers[\(i)]", &v)
        }
        if checkReferences {
            validateNames(&v)
            validateVia(&v)
        }
        validateFaults(&v, checkReferences: checkReferences)
        if let chaos {
            validate(chaos, &v, checkReferences: checkReferences)
        }
        validateSLO(&v)
        return v.issues
    }

    private func validateWriter(_ v: inout Validator) {
        v.checkNumber(writer.rate, "writer.rate", above: 0, atMost: 1_000_000, unit: " snapshots per second")
        v.checkNotTiny(writer.rate, "writer.rate", unit: "snapshots per second")
        v.checkInt(writer.payloadBytes, "writer.payloadBytes", 0...1_048_576)
        v.checkInt(writer.sndhwm, "writer.sndhwm", 0...Int(Int32.max))
        if let sndbuf = writer.sndbuf { v.checkInt(sndbuf, "writer.sndbuf", 1...Int(Int32.max)) }
        v.checkSpan(writer.heartbeat, "writer.heartbeat", atLeast: .milliseconds(10), atMost: .seconds(60))
        v.checkInt(writer.historyLimit, "writer.historyLimit", 0...1024)
        v.checkInt(writer.ioThreads, "writer.ioThreads", 1...16)
        if writer.publisher == .direct {
            let why = "direct (the writer writes ZMTP itself)"
            if security?.mode == .curve { v.add("writer.publisher", "\(why) speaks the NULL mechanism only: security mode curve needs libzmq") }
            if writer.nodrop { v.add("writer.publisher", "\(why) drops at the high-water mark: nodrop needs libzmq") }
        }
        if let nice = writer.nice { v.checkInt(nice, "writer.nice", -20...19) }
        if let batch = writer.batch {
            v.checkInt(batch.maxCount, "writer.batch.maxCount", 2...4096)
            v.checkSpan(batch.maxDelay, "writer.batch.maxDelay", atMost: .seconds(1))
            if writer.promise == .newestState {
                v.add("writer.batch", "batching keeps every version, but the promise is \"newest-state\" (the writer coalesces instead); expected false or no batch")
            }
        }
        if writer.coalesce != (writer.promise == .newestState) {
            v.add("writer.coalesce", "\(writer.coalesce) disagrees with promise \"\(writer.promise.rawValue)\"; expected \(writer.promise == .newestState)")
        }
        for (i, event) in (writer.events ?? []).enumerated() {
            let path = "writer.events[\(i)]"
            v.checkBefore(event.at, "\(path).at", duration)
            if !ScriptedEventSpec.validEventNames.contains(event.event) {
                v.add("\(path).event", "\(jsonQuoted(event.event)) is not one of \(ScriptedEventSpec.validEventNames.joined(separator: ", "))")
            }
        }
    }

    private func validate(_ group: ReaderGroup, _ path: String, _ v: inout Validator) {
        if let name = group.name {
            v.checkName(name, "\(path).name")
            if name == Self.writerName {
                v.add("\(path).name", "\"writer\" is reserved for the writer, expected another name")
            }
        }
        v.checkInt(group.count, "\(path).count", ReaderGroup.countRange)
        v.checkInt(group.rcvhwm, "\(path).rcvhwm", 0...Int(Int32.max))
        if let nice = group.nice { v.checkInt(nice, "\(path).nice", -20...19) }
        if let rcvbuf = group.rcvbuf {
            v.checkInt(rcvbuf, "\(path).rcvbuf", 1...Int(Int32.max))
        }
        if let delay = group.processingDelay {
            validate(delay, "\(path).processingDelay", &v)
        }
        if group.subscriber == .direct {
            let why = "direct (the reader reads ZMTP itself)"
            if group.role == .relay { v.add("\(path).subscriber", "\(why) is for readers, not relays; expected libzmq") }
            if group.policy == .conflate { v.add("\(path).subscriber", "\(why) does not conflate: policy conflate needs libzmq") }
        }
        v.checkSpan(group.lagLimit, "\(path).lagLimit", above: .zero, atMost: .minutes(60))
        if let startAt = group.startAt {
            v.checkBefore(startAt, "\(path).startAt", duration)
        }
        if let load = group.load {
            if group.role != .query {
                v.add("\(path).load", "found on role \(group.role.rawValue), allowed only on role query")
            }
            validate(load, "\(path).load", &v)
        }
        if let relay = group.relay {
            if group.role != .relay {
                v.add("\(path).relay", "found on role \(group.role.rawValue), allowed only on role relay")
            }
            v.checkSpan(relay.delay, "\(path).relay.delay", atMost: .seconds(60))
            v.checkSpan(relay.jitter, "\(path).relay.jitter", atMost: .seconds(60))
            v.checkNumber(relay.loss, "\(path).relay.loss", atLeast: 0, atMost: 1, unit: "")
        }
        v.checkInt(group.workers, "\(path).workers", 1...256)
        v.checkInt(group.historySize, "\(path).historySize", 1...65_536)
        v.checkInt(group.logFlushEvery, "\(path).logFlushEvery", 1...65_536)
    }

    private func validate(_ delay: DelaySpec, _ path: String, _ v: inout Validator) {
        let limit = TimeSpan.seconds(60)
        switch delay.distribution {
        case .fixed:
            v.checkSpan(delay.mean, "\(path)", atMost: limit)
        case .uniform:
            guard let min = delay.min, let max = delay.max else {
                v.add(path, "a uniform delay needs min and max")
                return
            }
            v.checkSpan(max, "\(path).max", atMost: limit)
            if min > max {
                v.add("\(path).min", "found \(jsonQuoted(min.description)), expected at most max (\(jsonQuoted(max.description)))")
            }
        case .exponential:
            v.checkSpan(delay.mean, "\(path).mean", above: .zero, atMost: limit)
            if let max = delay.max, max < delay.mean {
                v.add("\(path).max", "found \(jsonQuoted(max.description)), expected at least mean (\(jsonQuoted(delay.mean.description)))")
            }
        }
    }

    private func validate(_ load: QueryLoad, _ path: String, _ v: inout Validator) {
        v.checkInt(load.clients, "\(path).clients", 1...1000)
        v.checkNumber(load.rate, "\(path).rate", above: 0, atMost: 1_000_000, unit: " requests per second")
        v.checkNotTiny(load.rate, "\(path).rate", unit: "requests per second")
        v.checkSpan(load.timeout, "\(path).timeout", above: .zero, atMost: .seconds(60))
        if let mix = load.mix {
            for (kind, weight) in mix.sorted(by: { $0.key < $1.key }) {
                if !QueryLoad.requestKinds.contains(kind) {
                    v.add("\(path).mix.\(kind)", "unknown request kind; expected one of \(QueryLoad.requestKinds.joined(separator: ", "))")
                }
                v.checkNumber(weight, "\(path).mix.\(kind)", atLeast: 0, atMost: 1_000_000, unit: "")
            }
            if !mix.values.contains(where: { $0 > 0 }) {
                v.add("\(path).mix", "found no positive weight, expected at least one request kind with a weight more than 0")
            }
        }
    }

    /// Group names unique, node names unique, and no group named like another group's node.
    /// One message per group: the first problem found with its names.
    private func validateNames(_ v: inout Validator) {
        var groupOwner: [String: Int] = [:]
        var nodeOwner: [String: Int] = [Self.writerName: -1]
        var reported: Set<Int> = []
        func owner(_ index: Int) -> String { index < 0 ? "the writer" : "readers[\(index)]" }
        for (i, group) in readers.enumerated() {
            let name = group.groupName
            if name == Self.writerName {
                reported.insert(i)  // reported as reserved
            } else if let first = groupOwner[name] {
                v.add("readers[\(i)]", "group name \(jsonQuoted(name)) is already used by readers[\(first)]; set \"name\" on one of them to tell them apart")
                reported.insert(i)
                continue
            }
            groupOwner[name] = i
            for node in group.nodeNames {
                if let first = nodeOwner[node] {
                    if !reported.contains(i) {
                        v.add("readers[\(i)]", "node name \(jsonQuoted(node)) is already used by \(owner(first)); choose another \"name\"")
                        reported.insert(i)
                    }
                    break
                }
                nodeOwner[node] = i
            }
        }
        for (name, i) in groupOwner.sorted(by: { $0.value < $1.value }) where !reported.contains(i) {
            if let other = nodeOwner[name], other != i, !reported.contains(other) {
                v.add("readers[\(i)]", "group name \(jsonQuoted(name)) is also the name of a node of \(owner(other)), so a fault target would be ambiguous; choose another \"name\"")
                reported.insert(i)
            }
        }
        validateGeneratedNames(groupOwner: groupOwner, nodeOwner: nodeOwner, reported: reported, &v)
    }

    /// The orchestrator adds processes of its own: a query group's load
    /// generator (`<group>-load`) and a `cpu-hog` fault's spinner
    /// (`cpu-hog-<n>`). No node or group may take those names: two processes
    /// would run under one name and share a directory.
    private func validateGeneratedNames(groupOwner: [String: Int], nodeOwner: [String: Int], reported: Set<Int>,
                                        _ v: inout Validator) {
        var generated: [String: Int] = [:]
        for (i, group) in readers.enumerated() where group.role == .query && group.load != nil {
            generated["\(group.groupName)-load"] = i
        }
        for (i, group) in readers.enumerated() where !reported.contains(i) {
            for name in [group.groupName] + group.nodeNames {
                if let loaded = generated[name] {
                    v.add("readers[\(i)]", "the name \(jsonQuoted(name)) is taken by the load generator of readers[\(loaded)] "
                        + "(a query group's load generator is named <group>-load); choose another \"name\"")
                    break
                }
                if name.hasPrefix(Self.cpuHogPrefix) || name == "cpu-hog" {
                    v.add("readers[\(i)]", "the name \(jsonQuoted(name)) is reserved for the processes of cpu-hog faults "
                        + "(cpu-hog-1, cpu-hog-2, …); choose another \"name\"")
                    break
                }
            }
        }
    }

    /// `via` names a relay group, not the group itself, and relays form no cycle.
    private func validateVia(_ v: inout Validator) {
        var inReportedCycle: Set<String> = []
        for (i, group) in readers.enumerated() {
            guard let via = group.via else { continue }
            let path = "readers[\(i)].via"
            guard let target = self.group(named: via) else {
                let relays = readers.filter { $0.role == .relay }.map(\.groupName)
                let expected = relays.isEmpty ? "the name of a relay group, and there is none" : "the name of a relay group: \(relays.joined(separator: ", "))"
                v.add(path, "found \(jsonQuoted(via)), which names no group, expected \(expected)")
                continue
            }
            if via == group.groupName {
                v.add(path, "found the group's own name \(jsonQuoted(via)), expected another relay group")
                continue
            }
            if target.role != .relay {
                v.add(path, "found \(jsonQuoted(via)), a \(target.role.rawValue) group, expected the name of a relay group")
                continue
            }
            var chain = [group.groupName, via]
            var current = target
            while let next = current.via, next != current.groupName {
                if let loopStart = chain.firstIndex(of: next) {
                    let cycle = Set(chain[loopStart...])
                    if !(cycle.contains(group.groupName) && inReportedCycle.contains(group.groupName)) {
                        v.add(path, "relays subscribe through each other in a cycle (\((chain + [next]).joined(separator: " → "))), expected a tree rooted at the writer")
                    }
                    inReportedCycle.formUnion(cycle)
                    break
                }
                chain.append(next)
                guard let nextGroup = self.group(named: next) else { break }
                current = nextGroup
            }
        }
    }

    private func validateFaults(_ v: inout Validator, checkReferences: Bool) {
        let nodeNames = Set(nodes.map(\.name))
        for (i, fault) in faults.enumerated() {
            let path = "faults[\(i)]"
            let action = fault.action.rawValue
            v.checkBefore(fault.at, "\(path).at", duration)
            if let span = fault.for {
                if !fault.action.acceptsFor {
                    v.add("\(path).for", "not used by action \(action); only pause, cpu-hog, partition, loss, bandwidth and delay heal after a time")
                } else {
                    v.checkSpan(span, "\(path).for", above: .zero, atMost: Self.maxDuration)
                }
            } else if fault.action.requiresFor {
                v.add("\(path).for", "missing, expected how long \(action) lasts, e.g. \"2s\"")
            }
            if let loss = v.checkOnly(fault.loss, "\(path).loss", fault.action, .loss, expected: "a fraction more than 0 and at most 1") {
                v.checkNumber(loss, "\(path).loss", above: 0, atMost: 1, unit: "")
            }
            if let rate = v.checkOnly(fault.bandwidth, "\(path).bandwidth", fault.action, .bandwidth, expected: "a tc rate such as \"1mbit\""),
               FaultSpec.bitsPerSecond(ofRate: rate) == nil {
                let units = FaultSpec.bandwidthUnits.map(\.unit).joined(separator: ", ")
                v.add("\(path).bandwidth", "found \(jsonQuoted(rate)), expected a positive number and a unit: \(units) (e.g. \"1mbit\")")
            }
            if let delay = v.checkOnly(fault.delay, "\(path).delay", fault.action, .delay, expected: "a duration string such as \"5ms\"") {
                v.checkSpan(delay, "\(path).delay", above: .zero, atMost: .seconds(60))
            }
            if let threads = fault.threads {
                if fault.action != .cpuHog {
                    v.add("\(path).threads", "not used by action \(action); only cpu-hog takes it")
                } else if threads < 1 || threads > FaultSpec.maxHogThreads {
                    v.add("\(path).threads", "found \(threads), expected 1 ... \(FaultSpec.maxHogThreads) spinning threads")
                }
            }
            if fault.action.needsNetworkNamespaces && !launcher.appliesNetworkFaults {
                v.add("\(path).action", "\(action) needs launcher netns, compose or swarm, found launcher \(launcher.rawValue)")
            }
            guard checkReferences else { continue }
            validateTarget(fault, "\(path).target", nodeNames, &v)
            if fault.action == .resume && !faults.contains(where: {
                $0.action == .pause && $0.target == fault.target && $0.at < fault.at
            }) {
                v.add("\(path).target", "found no earlier pause of \(jsonQuoted(fault.target)), expected resume to follow a pause of the same node")
            }
        }
    }

    private func validateTarget(_ fault: FaultSpec, _ path: String, _ nodeNames: Set<String>, _ v: inout Validator) {
        let target = fault.target
        let group = self.group(named: target)
        if fault.action == .delay {
            let role = node(named: target)?.role ?? group.map { .reader($0.role) }
            if role != .reader(.relay) {
                v.add(path, "found \(jsonQuoted(target)), expected a relay node or group: delay is added by relays")
            }
        } else if fault.action.isNetworkFault {
            if !nodeNames.contains(target) && group == nil {
                let groups = readers.map(\.groupName).joined(separator: ", ")
                v.add(path, "found \(jsonQuoted(target)), which names no node or group, expected a node name (\(nodeSummary())) or a group name (\(groups))")
            }
        } else if !nodeNames.contains(target) {
            let hint = group != nil ? " (\(jsonQuoted(target)) is a group; \(fault.action.rawValue) targets one node)" : ""
            v.add(path, "found \(jsonQuoted(target)), which names no node\(hint), expected a node name (\(nodeSummary()))")
        }
    }

    /// The node names in brief: `writer, log-1 ... log-10, slow`.
    func nodeSummary() -> String {
        let groups = readers.map(\.nodeNames).filter { !$0.isEmpty }.map { names in
            names.count <= 2 ? names.joined(separator: ", ") : "\(names[0]) ... \(names[names.count - 1])"
        }
        return ([Self.writerName] + groups).joined(separator: ", ")
    }

    private func validate(_ chaos: ChaosSpec, _ v: inout Validator, checkReferences: Bool) {
        v.checkNumber(chaos.rate, "chaos.rate", above: 0, atMost: 600, unit: " faults per minute")
        if chaos.actions.isEmpty {
            v.add("chaos.actions", "found no actions, expected at least one of \(FaultAction.chaosActions.map(\.rawValue).joined(separator: ", "))")
        }
        for (i, action) in chaos.actions.enumerated() where !FaultAction.chaosActions.contains(action) {
            v.add("chaos.actions[\(i)]", "\(jsonQuoted(action.rawValue)) is not one of \(FaultAction.chaosActions.map(\.rawValue).joined(separator: ", "))")
        }
        if chaos.targets.isEmpty {
            v.add("chaos.targets", "found no targets, expected patterns such as \"role:cli\", \"cli-*\" or a node name")
        }
        if checkReferences {
            for (i, pattern) in chaos.targets.enumerated() where nodes(matching: pattern).isEmpty {
                if pattern.hasPrefix("role:") {
                    let roles = (["writer"] + ReaderRole.allCases.map(\.rawValue)).map { "role:\($0)" }
                    v.add("chaos.targets[\(i)]", "\(jsonQuoted(pattern)) matches no node, expected one of \(roles.joined(separator: ", ")) naming a role in this topology")
                } else {
                    v.add("chaos.targets[\(i)]", "\(jsonQuoted(pattern)) matches no node, expected a pattern such as \"role:cli\" or \"cli-*\", or a node name (\(nodeSummary()))")
                }
            }
        }
        if let start = chaos.start {
            v.checkBefore(start, "chaos.start", duration)
        }
        if let stop = chaos.stop {
            v.checkSpan(stop, "chaos.stop", above: chaos.start ?? .zero, atMost: duration)
        }
        v.checkSpan(chaos.pauseFor, "chaos.pauseFor", above: .zero, atMost: .minutes(60))
    }

    private func validateSLO(_ v: inout Validator) {
        let positive: [(Double?, String)] = [
            (slo.p50LatencyMs, "p50LatencyMs"), (slo.p99LatencyMs, "p99LatencyMs"), (slo.maxLatencyMs, "maxLatencyMs"),
            (slo.maxReaderRssMB, "maxReaderRssMB"), (slo.maxMemoryGrowthMB, "maxMemoryGrowthMB"),
            (slo.maxConvergeMs, "maxConvergeMs"),
        ]
        for case let (value?, key) in positive {
            v.checkNumber(value, "slo.\(key)", above: 0, atMost: 1e12, unit: "")
        }
        if let loss = slo.maxLossFastReaders, loss < 0 {
            v.add("slo.maxLossFastReaders", "found \(loss), expected an integer of at least 0")
        }
        if let busy = slo.maxBusyRatio {
            v.checkNumber(busy, "slo.maxBusyRatio", atLeast: 0, atMost: 1, unit: "")
        }
        if let ratio = slo.minDeliveryRatio {
            v.checkNumber(ratio, "slo.minDeliveryRatio", above: 0, atMost: 1, unit: "")
        }
        for (role, limits) in (slo.perRole ?? [:]).sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let values: [(Double?, String)] = [(limits.p50Ms, "p50Ms"), (limits.p99Ms, "p99Ms"), (limits.maxMs, "maxMs")]
            for case let (value?, key) in values {
                v.checkNumber(value, "slo.perRole.\(role.rawValue).\(key)", above: 0, atMost: 1e12, unit: "")
            }
        }
    }
}

extension ReaderGroup {
    /// Allowed `count`.
    public static let countRange = 1...2000
}

/// Collects issues of typed values, in the wording of the builder's.
struct Validator {
    private(set) var issues: [TopologyIssue] = []

    mutating func add(_ path: String, _ message: String) {
        issues.append(TopologyIssue(path: path, message: message))
    }

    /// The longest name a run, group or node may have.
    static let maxNameLength = 100

    /// A name that is safe as a file name, a command-line value and a host
    /// name: ASCII letters, digits, '.', '_' and '-', starting with a letter
    /// or digit (so never `.`, `..` or an option such as `-rf`).
    mutating func checkName(_ name: String, _ path: String) {
        func plain(_ s: Unicode.Scalar) -> Bool { s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s)) }
        let allowed = name.unicodeScalars.allSatisfy { plain($0) || $0 == "." || $0 == "_" || $0 == "-" }
        if name.isEmpty || !allowed {
            add(path, "found \(jsonQuoted(name)), expected a name of letters, digits, '.', '_' or '-'")
        } else if let first = name.unicodeScalars.first, !plain(first) {
            add(path, "found \(jsonQuoted(name)), expected a name that starts with a letter or a digit")
        } else if name.utf8.count > Self.maxNameLength {
            add(path, "found a name of \(name.utf8.count) characters, expected at most \(Self.maxNameLength)")
        }
    }

    /// A positive rate too low for a node to pace (its interval would not fit in 64-bit nanoseconds long before that).
    mutating func checkNotTiny(_ rate: Double, _ path: String, unit: String) {
        if rate > 0, rate < Topology.minRate {
            add(path, "\(rate) is too low, expected at least \(Topology.minRate) \(unit) (one every 1000 s)")
        }
    }

    mutating func checkInt(_ value: Int, _ path: String, _ range: ClosedRange<Int>) {
        if !range.contains(value) {
            let upper = range.upperBound == Int(Int32.max) ? "" : " ... \(range.upperBound)"
            let expected = upper.isEmpty ? "at least \(range.lowerBound)" : "\(range.lowerBound)\(upper)"
            add(path, "\(value) is out of range, expected \(expected)")
        }
    }

    /// `value` in `(above, atMost]` or `[atLeast, atMost]`.
    mutating func checkNumber(
        _ value: Double, _ path: String, above: Double? = nil, atLeast: Double? = nil, atMost: Double, unit: String
    ) {
        let low = above.map { value > $0 } ?? atLeast.map { value >= $0 } ?? true
        if !(low && value <= atMost && value.isFinite) {
            let lower = above.map { "more than \(format($0))" } ?? atLeast.map { "at least \(format($0))" } ?? ""
            add(path, "\(format(value)) is out of range, expected \(lower) and at most \(format(atMost))\(unit)")
        }
    }

    /// `span` in `(above, atMost]` or `[atLeast, atMost]`.
    mutating func checkSpan(
        _ span: TimeSpan, _ path: String, above: TimeSpan? = nil, atLeast: TimeSpan? = nil, atMost: TimeSpan
    ) {
        let low = above.map { span > $0 } ?? atLeast.map { span >= $0 } ?? true
        if !(low && span <= atMost) {
            var bounds: [String] = []
            if let above { bounds.append("more than \(jsonQuoted(above.description))") }
            if let atLeast { bounds.append("at least \(jsonQuoted(atLeast.description))") }
            bounds.append("at most \(jsonQuoted(atMost.description))")
            add(path, "found \(jsonQuoted(span.description)), expected \(bounds.joined(separator: " and "))")
        }
    }

    /// A time within the run: less than `duration`.
    mutating func checkBefore(_ time: TimeSpan, _ path: String, _ duration: TimeSpan) {
        if time >= duration {
            add(path, "found \(jsonQuoted(time.description)), expected less than the duration \(jsonQuoted(duration.description))")
        }
    }

    /// A fault parameter that one action requires and the others do not accept.
    /// - Returns: the value when it is present and `action` is `owner`, to be checked further.
    mutating func checkOnly<T>(
        _ value: T?, _ path: String, _ action: FaultAction, _ owner: FaultAction, expected: String
    ) -> T? {
        switch (value, action == owner) {
        case (let value?, true): return value
        case (nil, true): add(path, "missing, expected \(expected) for action \(owner.rawValue)")
        case (_?, false): add(path, "not used by action \(action.rawValue); only \(owner.rawValue) takes it")
        case (nil, false): break
        }
        return nil
    }

    private func format(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
