import CZeroMQ

extension Message {
    /// The file descriptor of the connection the frame came in on
    /// (`zmq_msg_get` with `ZMQ_SRCFD`); nil when libzmq does not say (an
    /// inproc peer). libzmq marks the property deprecated but keeps it: it is
    /// the one way to know which connection, and so which process, sent a
    /// message. The descriptor is libzmq's: look, never close.
    public var sourceFileDescriptor: Int32? {
        let fd = zmq_msg_get(storage.pointer, ZMQ_SRCFD)
        return fd >= 0 ? fd : nil
    }
}
