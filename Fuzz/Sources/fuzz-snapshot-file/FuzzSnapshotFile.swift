import FuzzChecks

/// libFuzzer's entry point: one input of the `snapshot-file` target (FuzzTarget.snapshotFile).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    FuzzTarget.snapshotFile.run(start, count)
}
