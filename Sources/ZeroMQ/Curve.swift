import CZeroMQ

/// A CURVE long-term key pair in Z85 text form (40 characters each).
public struct CurveKeyPair: Sendable, Hashable {
    /// The public key, Z85-encoded.
    public let publicKey: String
    /// The secret key, Z85-encoded.
    public let secretKey: String

    /// Creates a key pair from existing Z85 keys.
    /// - Parameters:
    ///   - publicKey: The public key (40 Z85 characters).
    ///   - secretKey: The secret key (40 Z85 characters).
    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Generates a new random key pair (`zmq_curve_keypair`).
    /// - Returns: The key pair.
    /// - Throws: ``ZMQError/Code/notSupported`` if libzmq was built without CURVE.
    public static func generate() throws -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        try valueOrThrow("zmq_curve_keypair") { zmq_curve_keypair(&publicKey, &secretKey) }
        return CurveKeyPair(publicKey: z85String(publicKey), secretKey: z85String(secretKey))
    }

    /// The key pair of a secret key, its public key derived from it (`zmq_curve_public`).
    /// - Parameters:
    ///   - secretKey: The secret key (40 Z85 characters).
    /// - Throws: ``ZMQError/Code/invalidArgument`` for a secret key that is not 40 Z85 characters;
    ///   ``ZMQError/Code/notSupported`` if libzmq was built without CURVE.
    public init(secretKey: String) throws {
        guard CurveKeyPair.isZ85Key(secretKey) else {
            throw ZMQError(code: .invalidArgument, operation: "zmq_curve_public (a secret key of \(secretKey.utf8.count) characters, expected 40 Z85)")
        }
        var publicKey = [CChar](repeating: 0, count: 41)
        try valueOrThrow("zmq_curve_public") { zmq_curve_public(&publicKey, secretKey) }
        self.init(publicKey: CurveKeyPair.z85String(publicKey), secretKey: secretKey)
    }

    /// Whether `key` has the shape of a Z85 CURVE key: 40 characters of the Z85 alphabet.
    public static func isZ85Key(_ key: String) -> Bool {
        key.utf8.count == 40 && key.utf8.allSatisfy { z85Alphabet.contains($0) }
    }

    /// A 32-byte binary key in Z85 (`zmq_z85_encode`); nil when `bytes` is not 32 bytes long.
    public static func z85(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&out, bytes, 32) != nil else { return nil }
        return z85String(out)
    }

    private static let z85Alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    private static func z85String(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
