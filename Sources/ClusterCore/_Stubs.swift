// TEMPORARY: replaced by the FSM/Snapshot/Topology branches at merge.
import Foundation
public enum FSMState: Int, Sendable, CaseIterable, Codable { case unspecified = 0, booting, idle, active, errorState, shutdown
  public var name: String { "\(self)" } }
public struct HistoryEntry: Sendable, Hashable, Codable { public let from: FSMState; public let to: FSMState; public let event: String; public let reason: String; public let version: UInt64; public let wallNanos: UInt64 }
public struct Snapshot: Sendable, Hashable, Codable {
    public let version: UInt64; public let epoch: UInt64
    public let state: FSMState; public let prevState: FSMState; public let reason: String
    public let snapshotID: String; public let fsmInstanceID: String; public let sourceModule: String
    public let attemptCount: UInt32
    public let monotonicNanos: UInt64; public let wallNanos: UInt64
    public let history: [HistoryEntry]
    public let contextData: Data
}
