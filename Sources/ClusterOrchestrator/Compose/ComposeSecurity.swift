import ClusterCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CURVE in a container stack (docs/security.md, "Containers"): the key
/// pairs are made when the file is written, as files in a directory beside
/// it (``ComposeFile/writeKeys(in:)``), and each service gets its own secret
/// certificate and the peers file as compose (or swarm) secrets, mounted
/// under `/run/secrets`. A replicated group, whose replicas learn their names
/// from the orchestrator only after they start, holds one pair for the group.
extension ComposeGenerator {
    /// Where a container finds its secrets.
    public static let secretsDirectory = "/run/secrets"
    /// The image's user (`clustersim`), who must be able to read the secrets.
    public static let imageUser: uid_t = 10001
    /// The secret holding the peers file.
    static let peersSecret = "peers"

    var curve: Bool { topology.securityMode == .curve }

    /// The key directory, relative to the compose file's: `./<topology>.keys` unless ``keysDirectory`` says.
    var keyDirectory: String { keysDirectory ?? "./\(topology.name).keys" }

    /// The secret of `holder`'s key pair.
    static func keySecret(_ holder: String) -> String { "key-" + holder }

    /// The files a node of `holder` is started with, inside its container.
    static func curveFiles(_ holder: String) -> CurveFiles {
        CurveFiles(keyFile: secretsDirectory + "/" + holder + RunKeys.secretSuffix,
                   peersFile: secretsDirectory + "/" + RunKeys.peersFileName)
    }

    /// The secrets a service of `holder` mounts: its secret certificate and the peers file.
    static func secretMounts(_ holder: String) -> [(source: String, target: String)] {
        [(keySecret(holder), holder + RunKeys.secretSuffix), (peersSecret, RunKeys.peersFileName)]
    }

    /// The secrets of the file: every holder's secret certificate and the peers file, as files in the key directory.
    func secrets(holders: [String]) -> [(name: String, file: String)] {
        ([Self.orchestratorService] + holders).map {
            (Self.keySecret($0), keyDirectory + "/" + $0 + RunKeys.secretSuffix)
        } + [(Self.peersSecret, keyDirectory + "/" + RunKeys.peersFileName)]
    }

    /// `service` under CURVE: its secrets mounted, and for the orchestrator `--curve-keys`.
    func secured(_ service: ComposeService, holder: String) -> ComposeService {
        var s = service
        s.secrets = Self.secretMounts(holder)
        if holder == Self.orchestratorService { s.command += ["--curve-keys", Self.secretsDirectory] }
        return s
    }
}

extension ComposeFile {
    /// Makes the stack's key pairs and writes them into ``keysDirectory`` under
    /// `base` (the compose file's directory): a directory of mode 0700 with one
    /// secret certificate (mode 0600) per key holder and the orchestrator, and
    /// the peers file. When this process may (root), they are handed to the
    /// image's user, who reads them through compose's bind mounts; swarm
    /// secrets carry their owner and mode themselves. A key directory left by
    /// an earlier file is replaced: a new file, new keys.
    /// - Returns: the directory, or nil when the file has no CURVE.
    /// - Throws: `CurveFileError` naming the file that could not be written.
    /// - Parameter faultAgent: also make a pair for the fault agent (``CurvePeers/faultAgent``),
    ///   which `orchestrator run --launcher compose|swarm` runs on the host with `agent --curve-keys`.
    @discardableResult
    public func writeKeys(in base: String, faultAgent: Bool = false) throws -> String? {
        guard let keysDirectory else { return nil }
        let directory = ((keysDirectory.hasPrefix("/") ? keysDirectory : (base as NSString).appendingPathComponent(keysDirectory)) as NSString).standardizingPath
        try Self.removeKeys(directory)
        _ = try RunKeys.create(holders: keyHolders + (faultAgent ? [CurvePeers.faultAgent] : []), directory: directory, title: "ClusterSim CURVE public keys of stack \(topologyName)",
                               writeOrchestrator: true, owner: geteuid() == 0 ? ComposeGenerator.imageUser : nil)
        return directory
    }

    /// Removes a key directory an earlier file left, when it holds nothing but keys.
    static func removeKeys(_ directory: String) throws {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else { return }
        if let other = names.first(where: { $0 != RunKeys.peersFileName && !$0.hasSuffix(RunKeys.secretSuffix) }) {
            throw CurveFileError(file: directory, "the key directory holds \(other), which is not a key: move it, or give another --out")
        }
        for name in names { try fm.removeItem(atPath: directory + "/" + name) }
        try fm.removeItem(atPath: directory)
    }
}
