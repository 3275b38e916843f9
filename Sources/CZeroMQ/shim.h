#ifndef CLUSTERSIM_CZEROMQ_SHIM_H
#define CLUSTERSIM_CZEROMQ_SHIM_H

#include <zmq.h>
#include <errno.h>

/// errno as an int, readable from Swift right after a failed libzmq call.
static inline int czmq_errno(void) { return zmq_errno(); }

/// libzmq's own error numbers are macros built on ZMQ_HAUSNUMERO; expose them
/// as functions so Swift does not depend on how the importer treats the macros.
static inline int czmq_efsm(void) { return EFSM; }
static inline int czmq_enocompatproto(void) { return ENOCOMPATPROTO; }
static inline int czmq_eterm(void) { return ETERM; }
static inline int czmq_emthread(void) { return EMTHREAD; }

/// Plain errno values used by libzmq, so the Swift side needs no Glibc import.
static inline int czmq_eagain(void) { return EAGAIN; }
static inline int czmq_eintr(void) { return EINTR; }
static inline int czmq_eaddrinuse(void) { return EADDRINUSE; }
static inline int czmq_eaddrnotavail(void) { return EADDRNOTAVAIL; }
static inline int czmq_einval(void) { return EINVAL; }
static inline int czmq_eprotonosupport(void) { return EPROTONOSUPPORT; }
static inline int czmq_enodev(void) { return ENODEV; }
static inline int czmq_enotsup(void) { return ENOTSUP; }
static inline int czmq_emsgsize(void) { return EMSGSIZE; }
static inline int czmq_ehostunreach(void) { return EHOSTUNREACH; }
static inline int czmq_enotsock(void) { return ENOTSOCK; }
static inline int czmq_efault(void) { return EFAULT; }
static inline int czmq_enomem(void) { return ENOMEM; }
static inline int czmq_emfile(void) { return EMFILE; }
static inline int czmq_enoent(void) { return ENOENT; }
static inline int czmq_econnrefused(void) { return ECONNREFUSED; }

#endif
