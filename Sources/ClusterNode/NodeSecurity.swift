import ClusterCore
import Foundation
import Logging
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A node's CURVE set-up (docs/security.md): its key pair, the cluster's
/// public keys, the ZAP handler of its context, and how each of its sockets
/// becomes a CURVE server (which admits only the cluster's keys) or client
/// (which expects its server's key and offers the node's own).
///
/// Made by the ``NodeRuntime`` with the context, before any socket: the ZAP
/// handler must be bound before a CURVE server binds.
final class NodeSecurity {
    let keys: CurveKeyPair
    let peers: CurvePeers
    let files: CurveFiles
    let authenticator: CurveAuthenticator

    /// Reads the files and starts the ZAP handler.
    /// - Throws: `CurveFileError` for a key file that cannot be read, is open
    ///   to other users, or holds no valid key pair, or a peers file that
    ///   cannot be read; `ZMQError` when the handler cannot be bound.
    init(files: CurveFiles, context: Context, logger: Logger) throws {
        self.files = files
        keys = try Self.keyPair(files.keyFile)
        peers = try Self.peers(files.peersFile)
        authenticator = try CurveAuthenticator(context: context, allowed: peers.admitted) { record in
            logger.warning("connection not let through", metadata: [
                "outcome": "\(record.outcome.rawValue)", "socket": "\(record.socket)", "address": "\(record.address)",
                "key": "\(record.publicKey)", "reason": "\(record.reason)"])
        }
    }

    /// Makes `socket` a CURVE server with the node's secret key, under its
    /// ZAP domain `label`. Before it binds. The handler's monitor hands the
    /// connection events of a ``ConnectionWatch`` over to `inbox`.
    func server(_ socket: borrowing Socket, label: String, forwarding inbox: ConnectionWatch.Inbox? = nil) throws {
        try socket.setCurveServer(true)
        try socket.setCurveSecretKey(keys.secretKey)
        try authenticator.watch(socket, as: label, server: true, forwarding: inbox)
    }

    /// Makes `socket` a CURVE client of the node `server` (its key from the
    /// peers file), offering the node's own key. Before it connects. The
    /// handler's monitor hands the connection events of a ``ConnectionWatch`` over to `inbox`.
    /// - Throws: `CurveFileError` when the peers file has no key for `server`.
    func client(_ socket: borrowing Socket, of server: String, label: String, forwarding inbox: ConnectionWatch.Inbox? = nil) throws {
        guard let serverKey = peers[server] else {
            throw CurveFileError(file: files.peersFile, "no public key for \(server), the node this one's \(label) socket connects to")
        }
        try socket.setCurveServerKey(serverKey)
        try socket.setCurvePublicKey(keys.publicKey)
        try socket.setCurveSecretKey(keys.secretKey)
        try authenticator.watch(socket, as: label, server: false, forwarding: inbox)
    }

    /// The keys a direct subscriber (a reader reading ZMTP itself) needs as a CURVE client of `server`.
    /// - Throws: `CurveFileError` when the peers file has no key for `server`.
    func directClient(of server: String, label: String) throws -> DirectSubscriber.Curve {
        guard let serverKey = peers[server] else {
            throw CurveFileError(file: files.peersFile, "no public key for \(server), the node this one's \(label) connection goes to")
        }
        return DirectSubscriber.Curve(serverKey: serverKey, publicKey: keys.publicKey, secretKey: keys.secretKey)
    }

    /// The counts into `counters`; the records, for `metrics.json`.
    func report(into counters: inout [String: UInt64]) -> [ConnectionRefusal] {
        let c = authenticator.counts
        counters[.curveAdmitted] = c.admitted
        counters[.curveRefused] = c.keyRefused
        counters[.handshakeFailed] = c.handshakeFailed
        counters[.refusedByServer] = c.refusedByServer
        return authenticator.records.map {
            ConnectionRefusal(outcome: $0.outcome.rawValue, socket: $0.socket, address: $0.address, key: $0.publicKey,
                              reason: $0.reason, count: $0.count)
        }
    }

    /// A key pair from a secret certificate that only its owner may read.
    static func keyPair(_ path: String) throws -> CurveKeyPair {
        try CurveKeyFile.read(path, isKey: CurveKeyPair.isZ85Key, pair: CurveKeyPair.init(secretKey:), publicKeyOf: \.publicKey)
    }

    /// The cluster's public keys.
    static func peers(_ path: String) throws -> CurvePeers {
        try CurvePeers(file: path, isKey: CurveKeyPair.isZ85Key)
    }
}
