/// What a process of a run is: the writer, a reader of some role, or one of
/// the helpers the orchestrator adds (a query group's load generator, a
/// cpu-hog fault's spinner).
///
/// Written as its ``name`` wherever it is stored or sent (`"writer"`,
/// `"log"`, `"query"`, `"cli"`, `"relay"`, `"query-load"`, `"cpu-hog"`), so
/// report.json, run-state.json and metrics.json keep those strings.
public enum NodeRole: Sendable, Hashable {
    case writer
    case reader(ReaderRole)
    /// The load generator of a query group with `load`.
    case queryLoad
    /// The process a `cpu-hog` fault starts.
    case cpuHog

    /// `"writer"`, the reader role's name (`"log"`, `"query"`, `"cli"`, `"relay"`), `"query-load"` or `"cpu-hog"`.
    public var name: String {
        switch self {
        case .writer: "writer"
        case .reader(let role): role.rawValue
        case .queryLoad: "query-load"
        case .cpuHog: "cpu-hog"
        }
    }

    /// The role called `name`, or nil when there is none.
    public init?(name: String) {
        switch name {
        case "writer": self = .writer
        case "query-load": self = .queryLoad
        case "cpu-hog": self = .cpuHog
        default:
            guard let role = ReaderRole(rawValue: name) else { return nil }
            self = .reader(role)
        }
    }

    /// Every role, writer first.
    public static let allCases: [NodeRole] = [.writer] + ReaderRole.allCases.map { .reader($0) } + [.queryLoad, .cpuHog]

    /// A reader whose fan-out latency and losses are measured: log, query or
    /// cli. A relay forwards and measures only how long it held each frame.
    public var isReader: Bool {
        switch self {
        case .reader(let role): role != .relay
        default: false
        }
    }

    /// The reader role, when this is one (relays included).
    public var readerRole: ReaderRole? {
        if case .reader(let role) = self { return role }
        return nil
    }
}

extension NodeRole: CustomStringConvertible {
    public var description: String { name }
}

extension NodeRole: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let role = NodeRole(name: text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "\"\(text)\" is not a node role (one of \(NodeRole.allCases.map(\.name).joined(separator: ", ")))")
        }
        self = role
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}
