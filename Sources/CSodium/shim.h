#ifndef CLUSTERSIM_CSODIUM_SHIM_H
#define CLUSTERSIM_CSODIUM_SHIM_H

/* libsodium from Debian's libsodium-dev (libzmq3-dev depends on it): the
   boxes of CurveZMQ for the direct subscriber. */
#include <sodium.h>

#endif
