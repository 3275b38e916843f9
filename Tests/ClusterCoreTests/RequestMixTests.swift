import ClusterCore
import Testing

@Suite("query load: request mix")
struct RequestMixTests {
    @Test("the command-line form reads back as the same mix")
    func roundTrip() throws {
        let mix = try #require(RequestMix(argument: "latest:6,version:2,health:1,metrics:1"))
        #expect(mix == RequestMix(getLatest: 6, getVersion: 2, health: 1, metrics: 1))
        #expect(RequestMix(argument: mix.argument) == mix)
        #expect(RequestMix(argument: RequestMix.standard.argument) == .standard)
        #expect(RequestMix(weights: ["health": 3]) == RequestMix(getLatest: 0, getVersion: 0, health: 3, metrics: 0))
    }

    @Test("malformed or all-zero mixes are refused", arguments: [
        "", "latest", "latest:", "latest:x", "latest:-1", "other:1", "latest:1,latest:2", "latest:0,health:0", "latest:inf",
    ])
    func refused(_ text: String) {
        #expect(RequestMix(argument: text) == nil, "\(text)")
    }

    @Test("kinds are picked in proportion to their weights; a kind weighing 0 is never picked")
    func proportions() {
        func counts(_ mix: RequestMix) -> [String: Int] {
            var c: [String: Int] = [:]
            for i in 0..<1000 {
                c["\(mix.pick((Double(i) + 0.5) / 1000))", default: 0] += 1
            }
            return c
        }
        #expect(counts(.standard) == ["getLatest": 700, "getVersion": 200, "health": 50, "metrics": 50])
        #expect(counts(RequestMix(getLatest: 0, getVersion: 1, health: 1, metrics: 0)) == ["getVersion": 500, "health": 500])
        #expect(counts(RequestMix(getLatest: 0, getVersion: 0, health: 0, metrics: 2)) == ["metrics": 1000])
    }
}
