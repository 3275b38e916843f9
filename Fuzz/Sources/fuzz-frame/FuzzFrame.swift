import FuzzChecks

/// libFuzzer's entry point: one input of the `frame` target (FuzzTarget.frame).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzTarget.frame.run(start, count)
}
