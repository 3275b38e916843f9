/// A seeded pseudo-random generator that gives the same sequence for the same
/// seed on every machine and every Swift version.
///
/// xoshiro256** (Blackman and Vigna) whose state is filled from the seed by
/// SplitMix64, as its authors recommend. Never use the system generator where
/// a run must be reproducible.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    public init(seed: UInt64) {
        var mixer = SplitMix64(state: seed)
        s0 = mixer.next()
        s1 = mixer.next()
        s2 = mixer.next()
        s3 = mixer.next()
    }

    /// A generator with the given raw state, for checks against the
    /// algorithm's reference outputs.
    init(state: (UInt64, UInt64, UInt64, UInt64)) {
        (s0, s1, s2, s3) = state
    }

    public mutating func next() -> UInt64 {
        let result = (s1 &* 5).rotatedLeft(by: 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3.rotatedLeft(by: 45)
        return result
    }

    /// A value in `0..<bound`, by the multiply-high method; unlike
    /// `Int.random(in:using:)` its result is fixed by this code, not by the
    /// standard library's version.
    public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "bound must be positive")
        return next().multipliedFullWidth(by: bound).high
    }
}

/// SplitMix64 (Steele, Lea and Flood), used to seed ``SeededRandom``.
struct SplitMix64: Sendable {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension UInt64 {
    fileprivate func rotatedLeft(by k: UInt64) -> UInt64 {
        (self << k) | (self >> (64 - k))
    }
}

/// A deterministic source of FSM events: the same seed gives the same events
/// for the same states on every machine.
///
/// For each state it picks a legal event by fixed weights (mostly forward
/// progress, some failures, rare shutdowns). With probability
/// ``illegalShare`` (2%, decided by the seeded generator) it picks one of the
/// state's illegal events instead, so that illegal handling is exercised.
public struct EventGenerator: Sendable {
    /// The share of illegal events, in per mille: 20 of 1 000 (2%).
    public static let illegalPerMille: UInt64 = 20
    /// The share of illegal events as a fraction (0.02).
    public static var illegalShare: Double { Double(illegalPerMille) / 1_000 }

    private var random: SeededRandom

    public init(seed: UInt64) {
        random = SeededRandom(seed: seed)
    }

    /// The next event for a machine in `state`.
    public mutating func next(for state: FSMState) -> FSMEvent {
        let illegal = Self.illegal[state.rawValue]
        if !illegal.isEmpty, random.below(1_000) < Self.illegalPerMille {
            return illegal[Int(random.below(UInt64(illegal.count)))]
        }
        let choices = Self.weights[state.rawValue]
        var pick = random.below(choices.total)
        for (event, weight) in choices.events {
            if pick < weight { return event }
            pick -= weight
        }
        preconditionFailure("weights of \(state) do not add up")
    }

    private struct Weights: Sendable {
        let events: [(FSMEvent, UInt64)]
        var total: UInt64 { events.reduce(0) { $0 + $1.1 } }
    }

    /// Legal events by state (indexed by raw value), with weights out of 100.
    private static let weights: [Weights] = FSMState.allCases.map { state in
        let events: [(FSMEvent, UInt64)] =
            switch state {
            case .unspecified: [(.boot, 100)]
            case .booting: [(.bootCompleted, 90), (.fail, 8), (.shutdown, 2)]
            case .idle: [(.activate, 85), (.fail, 10), (.shutdown, 5)]
            case .active: [(.deactivate, 80), (.fail, 17), (.shutdown, 3)]
            case .errorState: [(.recover, 60), (.retry, 35), (.shutdown, 5)]
            case .shutdown: [(.boot, 100)]
            }
        precondition(events.allSatisfy { TransitionTable.transition(from: state, on: $0.0) != nil })
        return Weights(events: events)
    }

    /// Illegal events by state (indexed by raw value).
    private static let illegal: [[FSMEvent]] = FSMState.allCases.map(TransitionTable.illegalEvents(in:))
}

/// An event that a topology's script fires at a fixed time.
public struct ScriptedEvent: Sendable, Hashable, Codable {
    /// Nanoseconds from the start of the run.
    public let atNanos: UInt64
    public let event: FSMEvent

    public init(atNanos: UInt64, event: FSMEvent) {
        self.atNanos = atNanos
        self.event = event
    }
}

/// A script of timed events, handed out once each as their time comes.
public struct EventScript: Sendable {
    private let events: [ScriptedEvent]
    private var cursor = 0

    /// Events are ordered by time; events at the same time keep the order
    /// they were given in.
    public init(_ events: [ScriptedEvent]) {
        self.events = events.enumerated()
            .sorted { ($0.element.atNanos, $0.offset) < ($1.element.atNanos, $1.offset) }
            .map(\.element)
    }

    /// The events whose time is at or before `atNanos` and that were not
    /// returned yet, in order.
    public mutating func due(atNanos now: UInt64) -> [FSMEvent] {
        let start = cursor
        while cursor < events.count, events[cursor].atNanos <= now {
            cursor += 1
        }
        return events[start..<cursor].map(\.event)
    }

    /// When the next event is due, or `nil` when the script is done.
    public var nextDueNanos: UInt64? {
        cursor < events.count ? events[cursor].atNanos : nil
    }

    /// Whether every event has been returned.
    public var isFinished: Bool { cursor == events.count }
}
