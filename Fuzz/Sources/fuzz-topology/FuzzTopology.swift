import FuzzChecks

/// libFuzzer's entry point: one input of the `topology` target (FuzzTarget.topology).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzTarget.topology.run(start, count)
}
