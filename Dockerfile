# syntax=docker/dockerfile:1
#
# ClusterSim image: cluster-node (the entrypoint) and orchestrator.
#
#   docker build -t clustersim:latest .     (docker compose up builds it as well)
#   docker run --rm --init clustersim:latest writer --pub 'tcp://*:5555' --snapshots 'tcp://*:5556'
#
# docker-compose.yml runs one container per node and the orchestrator in a
# container of its own (entrypoint /usr/local/bin/orchestrator); see
# docs/containers.md.

# ---- build stage: the official Swift image, plus libzmq's headers ----
# Swift 6.3, the development toolchain. Not 6.1: although Package.swift says
# swift-tools-version 6.1, the lowest versions it accepts of swift-log
# (1.16.2), swift-metrics (2.13.0) and swift-prometheus (2.4.1) declare tools
# version 6.2, which a 6.1 toolchain refuses.
ARG SWIFT_IMAGE=swift:6.3-bookworm
FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libzmq3-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependencies first, in a layer of their own, so that editing Sources/ does
# not fetch them again. Package.resolved is copied when there is one.
COPY Package.* ./
RUN swift package resolve

# The manifest declares the test targets too, and SwiftPM wants their
# directories to exist even when it builds only the executables.
COPY Sources ./Sources
COPY Tests ./Tests

# --static-swift-stdlib links the Swift runtime, Foundation and ICU data into
# the executables. The runtime stage then needs no Swift toolchain and no copy
# of /usr/lib/swift/linux/*.so: only libzmq5 (which brings libstdc++6).
RUN swift build -c release --static-swift-stdlib --product cluster-node \
    && swift build -c release --static-swift-stdlib --product orchestrator \
    && bin="$(swift build -c release --show-bin-path)" \
    && mkdir /out \
    && cp "$bin/cluster-node" "$bin/orchestrator" /out/

# ---- runtime stage: Debian slim, libzmq, a non-root user ----
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libzmq5 \
    && rm -rf /var/lib/apt/lists/*

# /runs is created here, owned by the node user, so that a named volume
# mounted on it starts out writable by that user.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/clustersim clustersim \
    && mkdir /runs \
    && chown clustersim:clustersim /runs

COPY --from=build /out/cluster-node /out/orchestrator /usr/local/bin/
# The ready topologies, so the orchestrator can run one without a bind mount.
COPY topologies /topologies

USER clustersim
WORKDIR /home/clustersim
ENV CLUSTERSIM_NODE_BINARY=/usr/local/bin/cluster-node

# 5555 writer PUB, 5556 snapshot service, 5560 relay XPUB, 5600 orchestrator control plane, 5700 query service.
EXPOSE 5555 5556 5560 5600 5700

# Exec form: the node is the container's main process and receives SIGTERM
# from `docker stop` directly (it blocks SIGTERM and reads it from a signalfd,
# which works for PID 1 too, then drains and writes its final dump).
#
# PID 1: rather than installing tini here, the compose files set `init: true`,
# so Docker's own docker-init (tini) is PID 1, forwards signals to the node and
# reaps zombies, with nothing added to the image. With plain `docker run`, pass
# --init for the same. The entrypoint stays the binary itself, so arguments go
# straight to it: `docker run clustersim writer …`.
ENTRYPOINT ["/usr/local/bin/cluster-node"]
CMD ["--help"]
