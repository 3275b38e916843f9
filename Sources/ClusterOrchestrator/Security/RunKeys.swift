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
/// The control plane's secret key is never written anywhere. Nodes are
/// given the two files' paths, never a key.
struct RunKeys {
    static let directoryName = "curve"
    static let peersFileName = "peers"
    static let secretSuffix = ".key_secret"

    /// `<private>/curve`.
    let directory: String
    /// The control plane's key pair, held in memory only.
    let orchestrator: CurveKeyPair
    /// Every node's public key, and the control plane's.
    let peers: CurvePeers

    /// The files a node is started with.
    func files(for node: String) -> CurveFiles {
        CurveFiles(keyFile: directory + "/" + node + Self.secretSuffix, peersFile: directory + "/" + Self.peersFileName)
    }

    /// Makes a key pair per node and writes the files.
    /// - Parameters:
    ///   - nodes: every node of the run (load generators included).
    ///   - parent: the run's private directory.
    ///   - run: the run's name, for the peers file's title.
    /// - Throws: `CurveFileError` naming the file that could not be written; `ZMQError` when libzmq has no CURVE.
    static func create(nodes: [String], in parent: String, run: String) throws -> RunKeys {
        let directory = parent + "/" + directoryName
        guard mkdir(directory, 0o700) == 0 else {
            throw CurveFileError(file: directory, "cannot create the key directory: \(String(cString: strerror(errno)))")
        }
        let orchestrator = try CurveKeyPair.generate()
        var peers = CurvePeers()
        peers.set(CurvePeers.orchestrator, orchestrator.publicKey)
        for node in nodes {
            let pair = try CurveKeyPair.generate()
            try writePrivately(CurveKeyFile.text(name: node, publicKey: pair.publicKey, secretKey: pair.secretKey),
                               to: directory + "/" + node + secretSuffix)
            peers.set(node, pair.publicKey)
        }
        try writePrivately(peers.text(title: "ClusterSim CURVE public keys of run \(run)"), to: directory + "/" + peersFileName)
        return RunKeys(directory: directory, orchestrator: orchestrator, peers: peers)
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
