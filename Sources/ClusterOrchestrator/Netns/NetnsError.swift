/// Why the network of a netns run could not be set up.
public struct NetnsError: CodedError, Hashable {
    public typealias Code = ErrorCode<NetnsError>
    public let code: Code
    /// The command and what it said, or what is missing, as shown to the user.
    public let message: String
    /// The failed command's own error, for code `.command`.
    public let command: SystemCommandError?

    public init(_ code: Code, _ message: String, command: SystemCommandError? = nil) {
        (self.code, self.message, self.command) = (code, message, command)
    }
}

extension ErrorCode<NetnsError> {
    /// More hosts than a /24 holds.
    public static let tooManyHosts = Self("too-many-hosts")
    /// Every /24 of 198.18.0.0/15 is on an interface already.
    public static let noFreeSubnet = Self("no-free-subnet")
    /// An `ip` or `iptables` command failed; ``NetnsError/command`` says how.
    public static let command = Self("command")
}
