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

    private static func z85String(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
