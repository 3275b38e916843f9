/// The libFuzzer entry point's body, in the fuzz package only (the rest of
/// this module is shared with the regression tests).
extension ZMTPFuzz {
    /// Checks one input; a violated property stops the process with its
    /// description, and libFuzzer saves the input as a crash.
    public static func run(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
        let input = UnsafeRawBufferPointer(start: count > 0 ? start : nil, count: count)
        do {
            _ = try check(input)
        } catch {
            fatalError("fuzz-zmtp: \(error)")
        }
        return 0
    }
}
