/// The libFuzzer entry points' body, in the fuzz package only (the rest of
/// this module is shared with the regression tests).
extension FuzzTarget {
    /// Checks one input; a violated property stops the process with its
    /// description, and libFuzzer saves the input as a crash.
    public func run(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
        let input = UnsafeRawBufferPointer(start: count > 0 ? start : nil, count: count)
        do {
            _ = try check(input)
        } catch {
            fatalError("fuzz-\(rawValue): \(error)")
        }
        return 0
    }
}
