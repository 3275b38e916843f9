/// The high-water marks a node uses when its configuration does not say:
/// `ZMQ_SNDHWM` of the writer's PUB and a relay's XPUB, `ZMQ_RCVHWM` of a
/// reader's SUB and a relay's XSUB, counted in frames (a batch frame is one).
///
/// libzmq's own default, 1 000: a reader that cannot keep up shows it as
/// loss within a bounded time (at 10 000 frames a second, a tenth of a
/// second on each side plus the kernel's buffers) instead of a second or more
/// of silent queueing. docs/architecture.md ("Decisions") has the
/// measurements behind it. A topology that wants deep queues sets
/// `writer.sndhwm` and `rcvhwm`.
public enum HighWaterMarks {
    /// Frames queued per subscriber (writer, relay) or per socket (reader).
    public static let `default` = 1_000
}
