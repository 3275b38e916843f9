import ClusterCore
import Foundation
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A run's CURVE keys (docs/security.md, "Key lifecycle"): a key pair per
/// node, made for this run (`zmq_curve_keypair`), and one for the control
/// plane.
///
/// Each node's pair is a secret certificate, `<node>.key_secret`, mode
/// 0600, in `curve/` (mode 0700) of the run's private directory (itself
/// made by `mkdtemp`, mode 0700, and removed at the end of the run); beside
/// them `peers`, the public keys of every node and of the control plane.
/// The control plane's secret key is never written anywhere in a local run.
/// Nodes are given the two files' paths, never a key.
///
/// A container stack's keys (``ComposeFile/writeKeys(in:)``) are made when
/// its file is written and read back by the orchestrator in its container
/// (``load(directory:)``): there the control plane's pair is a file too,
/// `orchestrator.key_secret`, and the replicas of a group share their
/// group's pair (``CurvePeers/holder(of:group:)``).
struct RunKeys {
    static let directoryName = "curve"
    static let peersFileName = "peers"
    static let secretSuffix = ".key_secret"
    /// The control plane's secret certificate in a stack's key directory.
    static let orchestratorFileName = "orchestrator" + secretSuffix

    /// Where the files are.
    let directory: String
    /// The control plane's key pair.
    let orchestrator: CurveKeyPair
    /// Every key holder's public key, and the control plane's.
    let peers: CurvePeers

    /// The files `node` of `group` is started with: its own pair's, or its group's when the group holds one.
    func files(for node: String, group: String) -> CurveFiles {
        let holder = peers.holder(of: node, group: group) ?? node
        return CurveFiles(keyFile: directory + "/" + holder + Self.secretSuffix, peersFile: directory + "/" + Self.peersFileName)
    }

    /// Makes a key pair per holder and writes the files in a new directory.
    /// - Parameters:
    ///   - holders: every node of the run (load generators included), or a stack's key holders.
    ///   - directory: the directory to make (mode 0700); it must not exist.
    ///   - title: the peers file's first line.
    ///   - writeOrchestrator: also write the control plane's pair (a stack's orchestrator reads it in its container).
    ///   - owner: when given, the user the files are handed to (the image's user, for bind mounts).
    /// - Throws: `CurveFileError` naming the file that could not be written; `ZMQError` when libzmq has no CURVE.
    static func create(holders: [String], directory: String, title: String, writeOrchestrator: Bool = false,
                       owner: uid_t? = nil) throws -> RunKeys {
        guard mkdir(directory, 0o700) == 0 else {
            throw CurveFileError(file: directory, "cannot create the key directory: \(String(cString: strerror(errno)))")
        }
        let orchestrator = try CurveKeyPair.generate()
        var peers = CurvePeers()
        peers.set(CurvePeers.orchestrator, orchestrator.publicKey)
        var files: [String] = []
        if writeOrchestrator {
            let path = directory + "/" + orchestratorFileName
            try writePrivately(CurveKeyFile.text(name: CurvePeers.orchestrator, publicKey: orchestrator.publicKey,
                                                 secretKey: orchestrator.secretKey), to: path)
            files.append(path)
        }
        for holder in holders {
            let pair = try CurveKeyPair.generate()
            let path = directory + "/" + holder + secretSuffix
            try writePrivately(CurveKeyFile.text(name: holder, publicKey: pair.publicKey, secretKey: pair.secretKey), to: path)
            files.append(path)
            peers.set(holder, pair.publicKey)
        }
        try writePrivately(peers.text(title: title), to: directory + "/" + peersFileName)
        files.append(directory + "/" + peersFileName)
        if let owner {
            // The directory stays its maker's: no one else reaches the files through it on the host.
            for path in files where chown(path, owner, gid_t(owner)) != 0 {
                throw CurveFileError(file: path, "cannot hand it to uid \(owner): \(String(cString: strerror(errno)))")
            }
        }
        return RunKeys(directory: directory, orchestrator: orchestrator, peers: peers)
    }

    /// A stack's keys as its orchestrator finds them: `orchestrator.key_secret` and `peers` in `directory`.
    /// - Parameter holders: every node of the run with its group; each must have a key of its own or its group's.
    /// - Throws: `CurveFileError` naming the file that cannot be read or the node it has no key for.
    static func load(directory: String, holders: [(node: String, group: String)]) throws -> RunKeys {
        let keyFile = directory + "/" + orchestratorFileName
        let orchestrator = try CurveKeyFile.read(keyFile, isKey: CurveKeyPair.isZ85Key, pair: CurveKeyPair.init(secretKey:),
                                                 publicKeyOf: \.publicKey)
        let peersFile = directory + "/" + peersFileName
        let peers = try CurvePeers(file: peersFile, isKey: CurveKeyPair.isZ85Key)
        guard peers[CurvePeers.orchestrator] == orchestrator.publicKey else {
            throw CurveFileError(file: peersFile, "its \(CurvePeers.orchestrator) key is not the one in \(orchestratorFileName)")
        }
        if let missing = holders.first(where: { peers.holder(of: $0.node, group: $0.group) == nil }) {
            throw CurveFileError(file: peersFile, "no public key for node \(missing.node) (nor for its group \(missing.group))")
        }
        return RunKeys(directory: directory, orchestrator: orchestrator, peers: peers)
    }

    /// The name each node's messages must come with (a key of its own or its group's), by node.
    func holders(of nodes: [(node: String, group: String)]) -> [String: String] {
        Dictionary(nodes.compactMap { n in peers.holder(of: n.node, group: n.group).map { (n.node, $0) } },
                   uniquingKeysWith: { a, _ in a })
    }

    /// Writes a new file created with mode 0600 (`O_CREAT | O_EXCL`: never
    /// an existing file, never readable by others, not even for a moment).
    static func writePrivately(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw CurveFileError(file: path, "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw CurveFileError(file: path, "cannot write: \(String(cString: strerror(errno)))") }
    }
}
