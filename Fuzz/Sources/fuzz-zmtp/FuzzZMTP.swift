import ZMTPFuzzChecks

/// libFuzzer's entry point: one input of the `zmtp` target (ZMTPFuzz).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    ZMTPFuzz.run(start, count)
}
