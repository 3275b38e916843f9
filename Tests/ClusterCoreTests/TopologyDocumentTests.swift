import ClusterCore
import Foundation
import Testing

@Suite("Topology documents: paths, values, edits")
struct TopologyDocumentTests {
    static let text = """
        {
          "name": "doc",
          "seed": 18446744073709551615,
          "writer": { "rate": 1000, "payloadBytes": 64 },
          "readers": [ { "role": "cli", "count": 3 }, { "role": "log", "name": "slow" } ],
          "slo": { "p99LatencyMs": 20 }
        }
        """

    func document() throws -> TopologyDocument {
        try TopologyDocument(data: Data(Self.text.utf8), file: "t.json")
    }

    @Test("paths parse and print back", arguments: ["writer.rate", "readers[0].count", "slo.perRole.query.p99Ms", "seed", "a_b[12][3].c"])
    func pathRoundTrip(_ text: String) throws {
        #expect(try TopologyPath(parsing: text).description == text)
    }

    @Test("a path that is not one says where and what was expected")
    func badPaths() {
        func message(_ text: String) -> String {
            do {
                _ = try TopologyPath(parsing: text)
                return "parsed"
            } catch {
                return error.description
            }
        }
        #expect(message("writer..rate") == "\"writer..rate\" is not a path in a topology: found '.' at character 8, expected a key (letters, digits and _, not starting with a digit); paths look like writer.rate or readers[0].count")
        #expect(message("") == "\"\" is not a path in a topology: the path is empty; paths look like writer.rate or readers[0].count")
        #expect(message("[0].count").contains("found '[' at character 1, expected a key"))
        #expect(message("readers[x].count").contains("found an index that is not a whole number in brackets at character 9, expected e.g. [0]"))
        #expect(message("readers[0]count").contains("found 'c' at character 11, expected '.' or '[' between the parts of a path"))
        #expect(message("writer.rate ").contains("found ' ' at character 12"))
    }

    @Test("command-line values: numbers, booleans, quoted and bare strings")
    func values() {
        #expect(TopologyValue(commandLine: "5000") == .number("5000"))
        #expect(TopologyValue(commandLine: "1.5e3") == .number("1.5e3"))
        #expect(TopologyValue(commandLine: "-2") == .number("-2"))
        #expect(TopologyValue(commandLine: "true") == .bool(true))
        #expect(TopologyValue(commandLine: "drop") == .string("drop"))
        #expect(TopologyValue(commandLine: "2s") == .string("2s"))
        #expect(TopologyValue(commandLine: "\"123\"") == .string("123"))
        #expect(TopologyValue(commandLine: "01") == .string("01"))  // not a JSON number
        #expect(TopologyValue.number("5000").number == 5000)
        #expect(TopologyValue.string("drop").found == "a string (\"drop\")")
    }

    @Test("reading values, present and absent")
    func reading() throws {
        let d = try document()
        #expect(d.value(at: try TopologyPath(parsing: "writer.rate")) == .number("1000"))
        #expect(d.value(at: try TopologyPath(parsing: "readers[1].name")) == .string("slow"))
        #expect(d.value(at: try TopologyPath(parsing: "readers[1].count")) == nil)
        #expect(d.value(at: try TopologyPath(parsing: "readers[5].count")) == nil)
        #expect(d.value(at: try TopologyPath(parsing: "writer")) == nil)  // an object, not a scalar
    }

    @Test("setting values keeps the rest of the file as it was, numbers as written")
    func setting() throws {
        var d = try document()
        try d.set(try TopologyPath(parsing: "writer.rate"), to: .number("2500"))
        try d.set(try TopologyPath(parsing: "readers[0].policy"), to: .string("conflate"))
        try d.set(try TopologyPath(parsing: "readers[1].count"), to: .number("4"))
        try d.set(try TopologyPath(parsing: "slo.perRole.cli.p99Ms"), to: .number("30"))
        let json = String(decoding: d.jsonData(), as: UTF8.self)
        #expect(json.contains("\"seed\": 18446744073709551615"))
        // Keys stay in file order; new keys come last in their object.
        let name = try #require(json.range(of: "\"name\"")), writer = try #require(json.range(of: "\"writer\""))
        #expect(name.lowerBound < writer.lowerBound)
        #expect(json.contains("\"rate\": 2500,\n    \"payloadBytes\": 64"))
        let t = try d.topology()
        #expect(t.writer.rate == 2500)
        #expect(t.readers[0].policy == .conflate)
        #expect(t.readers[1].count == 4)
        #expect(t.seed == UInt64.max)
        #expect(t.slo.perRole?[.cli]?.p99Ms == 30)
    }

    @Test("an unchanged document parses to the same topology as the file")
    func roundTrip() throws {
        let d = try document()
        let direct = try TopologyLoader.parse(Data(Self.text.utf8), file: "t.json")
        #expect(try d.topology() == direct)
    }

    @Test("paths that do not fit the document are refused with the file and the part of the path")
    func refusals() throws {
        var d = try document()
        func refusal(_ path: String) throws -> String? {
            let p = try TopologyPath(parsing: path)
            var copy = d
            return #expect(throws: TopologyError.self) { try copy.set(p, to: .number("1")) }?.description
        }
        #expect(try refusal("readers[2].count") == "t.json: readers[2]: index 2 is past the end of readers: it has 2 elements (readers[0] ... readers[1])")
        #expect(try refusal("writer.rate.x") == "t.json: writer.rate.x: writer.rate is a number (1000), expected an object to hold the key")
        #expect(try refusal("writer[0]") == "t.json: writer[0]: writer is an object, expected an array to index")
        #expect(try refusal("name[0]") == "t.json: name[0]: name is a string (\"doc\"), expected an array to index")
        // A key the schema does not know is added; the topology's own validation refuses it.
        try d.set(try TopologyPath(parsing: "writer.rat"), to: .number("1"))
        #expect(throws: TopologyError.self) { _ = try d.topology() }
    }
}
