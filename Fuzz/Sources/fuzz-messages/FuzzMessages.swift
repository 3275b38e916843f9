import FuzzChecks

/// libFuzzer's entry point: one input of the `messages` target (FuzzTarget.messages).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzTarget.messages.run(start, count)
}
