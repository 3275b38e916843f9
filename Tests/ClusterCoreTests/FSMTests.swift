import Testing

@testable import ClusterCore

@Suite("FSM")
struct FSMTests {
    /// The table, written out once more so that any change to it is deliberate.
    static let expectedLegal: Set<String> = [
        "UNSPECIFIED boot BOOTING", "SHUTDOWN boot BOOTING",
        "BOOTING boot_completed IDLE", "BOOTING fail ERROR_STATE", "BOOTING shutdown SHUTDOWN",
        "IDLE activate ACTIVE", "IDLE fail ERROR_STATE", "IDLE shutdown SHUTDOWN",
        "ACTIVE deactivate IDLE", "ACTIVE fail ERROR_STATE", "ACTIVE shutdown SHUTDOWN",
        "ERROR_STATE recover IDLE", "ERROR_STATE retry BOOTING", "ERROR_STATE shutdown SHUTDOWN",
    ]

    @Test func tableIsTheDocumentedOne() {
        let actual = Set(TransitionTable.all.map { "\($0.from.name) \($0.event.rawValue) \($0.to.name)" })
        #expect(actual == Self.expectedLegal)
        #expect(TransitionTable.all.allSatisfy { !$0.reason.isEmpty })
    }

    @Test(arguments: TransitionTable.all)
    func legalTransitionIsApplied(_ transition: Transition) throws {
        var machine = StateMachine(state: transition.from)
        let result = machine.apply(transition.event)
        #expect(try result.get() == transition)
        #expect(machine.state == transition.to)
        #expect(machine.transitionsByKind == ["\(transition.from.name)->\(transition.to.name)": 1])
        #expect(machine.illegalEvents == 0)
    }

    static var illegalPairs: [(FSMState, FSMEvent)] {
        FSMState.allCases.flatMap { state in TransitionTable.illegalEvents(in: state).map { (state, $0) } }
    }

    @Test(arguments: illegalPairs)
    func illegalEventIsRejected(_ state: FSMState, _ event: FSMEvent) {
        var machine = StateMachine(state: state)
        guard case .failure(let error) = machine.apply(event) else {
            Issue.record("\(event) in \(state) was accepted")
            return
        }
        #expect(error.state == state)
        #expect(error.event == event)
        #expect(error.reason.contains(event.rawValue) && error.reason.contains(state.name))
        #expect(machine.state == state)
        #expect(machine.illegalEvents == 1)
        #expect(machine.transitionsByKind.isEmpty)
    }

    @Test func everyPairIsDecided() {
        #expect(TransitionTable.all.count + Self.illegalPairs.count == FSMState.allCases.count * FSMEvent.allCases.count)
    }

    @Test func attemptCountCountsRecoveriesUntilActive() {
        var machine = StateMachine()
        for event: FSMEvent in [.boot, .fail, .retry, .fail, .recover] { _ = machine.apply(event) }
        #expect(machine.state == .idle)
        #expect(machine.attemptCount == 2)
        _ = machine.apply(.fail)  // failing does not reset it
        #expect(machine.attemptCount == 2)
        _ = machine.apply(.recover)
        _ = machine.apply(.activate)
        #expect(machine.attemptCount == 0)
        for event: FSMEvent in [.fail, .recover, .shutdown, .boot] { _ = machine.apply(event) }
        #expect(machine.attemptCount == 0)
        #expect(machine.transitionsByKind["SHUTDOWN->BOOTING"] == 1)
    }

    @Test func namesRoundTrip() {
        for state in FSMState.allCases {
            #expect(FSMState(name: state.name) == state)
        }
        #expect(FSMState(name: "ERROR_STATE") == .errorState)
        #expect(FSMState(name: "error_state") == nil)
        #expect(FSMState.allCases.map(\.rawValue) == [0, 1, 2, 3, 4, 5])
    }
}

@Suite("Seeded events")
struct FSMEventSourceTests {
    /// Drives a machine with a generator; returns the events generated.
    static func run(seed: UInt64, count: Int) -> [FSMEvent] {
        var generator = EventGenerator(seed: seed)
        var machine = StateMachine()
        return (0..<count).map { _ in
            let event = generator.next(for: machine.state)
            _ = machine.apply(event)
            return event
        }
    }

    @Test func splitMix64MatchesReference() {
        var mixer = SplitMix64(state: 0)
        #expect(mixer.next() == 0xE220_A839_7B1D_CDAF)
        #expect(mixer.next() == 0x6E78_9E6A_A1B9_65F4)
    }

    @Test func xoshiroMatchesReference() {
        var random = SeededRandom(state: (1, 2, 3, 4))
        #expect((0..<4).map { _ in random.next() } == [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240])
    }

    @Test func sameSeedSameEvents() {
        #expect(Self.run(seed: 7, count: 10_000) == Self.run(seed: 7, count: 10_000))
    }

    @Test func differentSeedsDiffer() {
        #expect(Self.run(seed: 7, count: 10_000) != Self.run(seed: 8, count: 10_000))
    }

    @Test func goldenPrefixForSeed42() {
        let prefix = Self.run(seed: 42, count: 24).map(\.rawValue).joined(separator: " ")
        #expect(prefix == Self.golden42)
    }

    static let golden42 =
        "boot fail retry boot_completed activate deactivate activate fail retry boot_completed activate deactivate "
        + "activate deactivate activate deactivate fail retry boot_completed shutdown boot boot_completed activate deactivate"

    @Test func illegalShareIsAboutTwoPercent() {
        var generator = EventGenerator(seed: 3)
        var machine = StateMachine()
        let total = 100_000
        for _ in 0..<total { _ = machine.apply(generator.next(for: machine.state)) }
        let share = Double(machine.illegalEvents) / Double(total)
        #expect(share > 0.015 && share < 0.025, "illegal share \(share)")
        // Every legal transition shows up in a long run.
        #expect(Set(machine.transitionsByKind.keys).count == Set(TransitionTable.all.map(\.kind)).count)
    }

    @Test func scriptHandsOutEventsInOrderOnce() {
        var script = EventScript([
            ScriptedEvent(atNanos: 300, event: .deactivate),
            ScriptedEvent(atNanos: 100, event: .boot),
            ScriptedEvent(atNanos: 200, event: .bootCompleted),
            ScriptedEvent(atNanos: 200, event: .activate),
        ])
        #expect(script.nextDueNanos == 100)
        #expect(script.due(atNanos: 50) == [])
        #expect(script.due(atNanos: 100) == [.boot])
        #expect(script.due(atNanos: 100) == [])
        #expect(script.due(atNanos: 250) == [.bootCompleted, .activate])
        #expect(!script.isFinished)
        #expect(script.due(atNanos: 10_000) == [.deactivate])
        #expect(script.isFinished)
        #expect(script.nextDueNanos == nil)
        #expect(script.due(atNanos: 20_000) == [])
    }
}
