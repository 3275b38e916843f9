import FuzzChecks

/// libFuzzer's entry point: one input of the `snapshot` target (FuzzTarget.snapshot).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzTarget.snapshot.run(start, count)
}
