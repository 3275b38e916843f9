#ifndef CLUSTERSIM_CZEROMQ_SHIM_H
#define CLUSTERSIM_CZEROMQ_SHIM_H

#include <zmq.h>
#include <errno.h>

/// errno as an int, readable from Swift right after a failed libzmq call.
static inline int czmq_errno(void) { return zmq_errno(); }

#endif
