#!/usr/bin/env bash
# A Docker engine for the container scripts and tests, on a machine where none
# runs: starts dockerd when no engine answers, and stops it again only if it
# started it.
#
#   scripts/docker-engine.sh start    # an engine answers afterwards (exit 0), or why not (exit 1)
#   scripts/docker-engine.sh stop     # stops the engine if this script started it and nobody else still uses it
#   scripts/docker-engine.sh status   # "running (ours, pid N)", "running (not ours)" or "not running"
#
# Every address stays in 198.18.0.0/15 (RFC 2544 benchmarking, never a real
# network): the default bridge is 198.19.250.1/24, networks compose and swarm
# create come from 198.19.0.0/17 in /24s. Without IPVS and with iptables left
# alone (--iptables=false) the engine adds no firewall rules.
#
# Storage: overlay2 when the kernel mounts an overlay file system here (a
# container costs a directory, not a copy of its image), otherwise vfs, which
# works everywhere but copies the whole image into every container it
# creates and deletes it again at removal (11 containers of a 200 MB image:
# 14 s to create, 15 s to remove, against 2 s each with overlay2).
# CLUSTERSIM_ENGINE_STORAGE=vfs|overlay2 chooses.
#
# Leases: `start` takes a lease for its caller (the parent process, or
# CLUSTERSIM_ENGINE_LEASE), `stop` returns it; the engine is stopped once the
# last live lease is returned, so a test and a script sharing the engine do
# not pull it from under each other. An engine this script did not start is
# never stopped.
#
# What a started engine creates and `stop` removes: the dockerd and containerd
# processes, the default bridge (docker0) and swarm's docker_gwbridge, the
# engine's run-time state (/var/run/docker*, /run/docker*), and the
# net.ipv4.ip_forward it turns on. Images stay in /var/lib/docker (that is the
# image cache scripts/image.sh relies on).
set -euo pipefail

state=${CLUSTERSIM_ENGINE_STATE:-/run/clustersim-engine}
log=${CLUSTERSIM_ENGINE_LOG:-$state/dockerd.log}
wait_seconds=${CLUSTERSIM_ENGINE_WAIT:-60}
lease=${CLUSTERSIM_ENGINE_LEASE:-$PPID}

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# overlay2 when an overlay mount works on the file system of /var/lib/docker, else vfs.
storage_driver() {
  if [ -n "${CLUSTERSIM_ENGINE_STORAGE:-}" ]; then echo "$CLUSTERSIM_ENGINE_STORAGE"; return; fi
  local probe driver=vfs
  mkdir -p /var/lib/docker
  probe=$(mktemp -d /var/lib/docker/.clustersim-overlay-probe.XXXXXX)
  mkdir "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
  if grep -qw overlay /proc/filesystems \
    && mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
    umount "$probe/merged"
    driver=overlay2
  fi
  rm -rf "$probe"
  echo "$driver"
}

ours_pid() {
  local pid
  [ -f "$state/dockerd.pid" ] || return 1
  pid=$(cat "$state/dockerd.pid")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

live_leases() {
  local f pid n=0
  for f in "$state"/lease.*; do
    [ -e "$f" ] || continue
    pid=${f##*.}
    if kill -0 "$pid" 2>/dev/null; then n=$((n + 1)); else rm -f "$f"; fi
  done
  echo "$n"
}

start() {
  mkdir -p "$state"
  if engine_answers; then
    # Someone's engine (possibly ours, started for another caller): take a lease on it if it is ours.
    if ours_pid >/dev/null; then touch "$state/lease.$lease"; fi
    return 0
  fi
  if ours_pid >/dev/null; then
    echo "docker-engine: dockerd (pid $(ours_pid)) runs but does not answer; see $log" >&2
    return 1
  fi
  command -v dockerd >/dev/null || { echo "docker-engine: dockerd is not installed (apt-get install docker.io)" >&2; return 1; }
  [ "$(id -u)" -eq 0 ] || { echo "docker-engine: starting dockerd needs root" >&2; return 1; }
  if [ -S /var/run/docker.sock ] && ! pgrep -x dockerd >/dev/null; then
    rm -f /var/run/docker.sock /var/run/docker.pid   # a killed engine's leftovers
  fi
  if pgrep -x dockerd >/dev/null; then
    echo "docker-engine: a dockerd not started by this script runs but does not answer; not starting another" >&2
    return 1
  fi
  if [ -f "$state/links.before" ]; then
    # An engine this script started was killed before it could stop it: remove what it left first.
    echo "docker-engine: removing what a killed engine started here left (interfaces, run-time state)" >&2
    cleanup
  fi
  # What exists before, so that stop removes only what the engine added.
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' >"$state/links.before"
  sysctl -n net.ipv4.ip_forward >"$state/ip_forward.before"
  : >"$log"
  # setsid: the engine is not in the caller's process group, so a terminal's Ctrl-C does not reach it.
  # It keeps none of the caller's descriptors either: one it held open (a pipe, or the socket by
  # which a parent learns that this script ended) would make the caller wait for as long as it runs.
  local storage
  storage=$(storage_driver)
  (
    for fd in $(ls /proc/$BASHPID/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
    exec setsid dockerd --iptables=false --storage-driver="$storage" --bip=198.19.250.1/24 \
      --default-address-pool base=198.19.0.0/17,size=24
  ) >>"$log" 2>&1 </dev/null &
  echo $! >"$state/dockerd.pid"
  local deadline=$((SECONDS + wait_seconds))
  until engine_answers; do
    if ! ours_pid >/dev/null; then
      echo "docker-engine: dockerd exited at start; the end of $log:" >&2
      tail -n 15 "$log" >&2
      cleanup
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "docker-engine: dockerd did not answer within ${wait_seconds}s; stopping it. The end of $log:" >&2
      tail -n 15 "$log" >&2
      stop_engine
      return 1
    fi
    sleep 0.2
  done
  touch "$state/lease.$lease"
  echo "docker-engine: started dockerd (pid $(cat "$state/dockerd.pid"), $storage storage), log $log" >&2
}

# Stops our dockerd (SIGTERM, then SIGKILL after 30 s) and removes what it left.
stop_engine() {
  local pid
  if pid=$(ours_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "docker-engine: dockerd did not stop within 30 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  # Its containerd, should it have outlived it (it is started by, and normally stops with, dockerd).
  local c
  for c in $(pgrep -f '^containerd --config /var/run/docker/containerd/containerd.toml' || true); do
    kill -TERM "$c" 2>/dev/null || true
  done
  cleanup
  echo "docker-engine: stopped dockerd" >&2
}

# Removes the interfaces, run-time state and sysctl change of the engine this script started.
cleanup() {
  local link
  if [ -f "$state/links.before" ]; then
    for link in docker0 docker_gwbridge $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^br-' || true); do
      grep -qx "$link" "$state/links.before" && continue
      ip link show "$link" >/dev/null 2>&1 && ip link del "$link" 2>/dev/null || true
    done
  fi
  # Network namespaces the engine mounted (swarm's ingress_sbox and overlay namespaces).
  if [ -d /var/run/docker/netns ]; then
    for ns in /var/run/docker/netns/*; do [ -e "$ns" ] && umount "$ns" 2>/dev/null; done
  fi
  umount /var/run/docker/netns/default 2>/dev/null || true
  rm -rf /var/run/docker /var/run/docker.sock /var/run/docker.pid /run/docker 2>/dev/null || true
  if [ -f "$state/ip_forward.before" ]; then
    sysctl -q -w net.ipv4.ip_forward="$(cat "$state/ip_forward.before")" >/dev/null || true
  fi
  rm -f "$state/dockerd.pid" "$state/links.before" "$state/ip_forward.before" "$state"/lease.*
}

stop() {
  rm -f "$state/lease.$lease"
  ours_pid >/dev/null || return 0
  local n
  n=$(live_leases)
  if [ "$n" -gt 0 ]; then
    echo "docker-engine: dockerd stays: $n other user(s) hold a lease" >&2
    return 0
  fi
  stop_engine
}

status() {
  local pid
  if pid=$(ours_pid); then
    if engine_answers; then echo "running (ours, pid $pid, $(live_leases) lease(s))"; else echo "starting or stuck (ours, pid $pid)"; fi
  elif engine_answers; then
    echo "running (not ours)"
  else
    echo "not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
