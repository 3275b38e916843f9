import Foundation
import Testing

@testable import ClusterCore

/// The topology's `security` key, and the CURVE files' formats.
@Suite("Security configuration")
struct SecurityConfigTests {
    static func parse(_ security: String) throws -> Topology {
        let json = #"{"name": "s", "writer": {"rate": 10}, "readers": [{"role": "cli"}]\#(security)}"#
        return try TopologyLoader.parse(Data(json.utf8), file: "s.json")
    }

    @Test("security.mode curve is read, written back and read again; without the key the mode is none")
    func modes() throws {
        let curve = try Self.parse(#", "security": {"mode": "curve"}"#)
        #expect(curve.securityMode == .curve)
        let again = try TopologyLoader.parse(try TopologyLoader.encode(curve), file: "again.json")
        #expect(again == curve && again.securityMode == .curve)
        #expect(try Self.parse("").securityMode == .plain)
        #expect(try Self.parse(#", "security": {"mode": "none"}"#).securityMode == .plain)
    }

    @Test("a bad security object is reported with its path and what was expected",
          arguments: [
            (#", "security": {"mode": "tls"}"#, #"s.json: security.mode: "tls" is not one of none, curve"#),
            (#", "security": {}"#, "s.json: security.mode: missing required key, expected one of none, curve"),
            (#", "security": "curve""#, #"s.json: security: found a string ("curve"), expected an object"#),
            (#", "security": {"mode": "curve", "keys": "/tmp"}"#, "s.json: security.keys: unknown key; expected one of mode"),
            (#", "security": {"mode": true}"#, "s.json: security.mode: found a boolean (true), expected one of none, curve"),
          ])
    func rejected(_ security: String, _ expected: String) {
        do {
            _ = try Self.parse(security)
            Issue.record("accepted \(security)")
        } catch {
            #expect("\(error)".contains(expected), "got: \(error)")
        }
    }

    static let key1 = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    static let key2 = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
    static let key3 = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
    static func isKey(_ s: String) -> Bool { s.utf8.count == 40 }

    @Test("a peers file renders and parses back; a key with '#' in it is a key, a line starting with '#' a comment")
    func peersRoundTrip() throws {
        var peers = CurvePeers()
        peers.set(CurvePeers.orchestrator, Self.key1)
        peers.set("writer", Self.key2)
        peers.set("cli-1", "#" + Self.key3.dropFirst())
        let text = peers.text(title: "test")
        let back = try CurvePeers(parsing: text, file: "peers", isKey: Self.isKey)
        #expect(back == peers)
        #expect(back["writer"] == Self.key2 && back["nobody"] == nil)
        #expect(back.admitted == [Self.key2: "writer", "#" + Self.key3.dropFirst(): "cli-1"], "the orchestrator's key admits no one")
    }

    @Test("a peers file with a bad line or a name twice is refused, naming the line")
    func peersRejected() {
        #expect(throws: CurveFileError(file: "p", "line 2: expected NAME and a public key of 40 Z85 characters, found 1 field")) {
            try CurvePeers(parsing: "# c\nwriter\n", file: "p", isKey: Self.isKey)
        }
        #expect(throws: CurveFileError(file: "p", "line 2: writer is listed twice")) {
            try CurvePeers(parsing: "writer \(Self.key1)\nwriter \(Self.key2)\n", file: "p", isKey: Self.isKey)
        }
    }

    @Test("a key file is a ZeroMQ secret certificate: written and read back, quoted or not")
    func keyFile() {
        let text = CurveKeyFile.text(name: "cli-1", publicKey: Self.key1, secretKey: Self.key2)
        #expect(text.contains("#   ZeroMQ CURVE **Secret** Certificate"))
        let (p, s) = CurveKeyFile.parse(text)
        #expect(p == Self.key1 && s == Self.key2)
        let (p2, s2) = CurveKeyFile.parse("curve\n    public-key = \(Self.key3)\n")
        #expect(p2 == Self.key3 && s2 == nil)
    }

    @Test("a node's CURVE files reach its command line as paths, after the common options")
    func commandLine() {
        var c = ReaderConfig(name: "far", publishEndpoint: "tcp://h:1", snapshotEndpoint: "tcp://w:2")
        c.curve = CurveFiles(keyFile: "/run/k/far.key_secret", peersFile: "/run/k/peers")
        c.pubNode = "hub"
        let args = c.arguments
        #expect(args.suffix(6) == ["--security", "curve", "--curve-key", "/run/k/far.key_secret", "--curve-peers", "/run/k/peers"])
        #expect(args.contains("--pub-node") && args.contains("hub"))
        #expect(!ReaderConfig(name: "r", publishEndpoint: "a", snapshotEndpoint: "b").arguments.contains("--security"))
    }
}
