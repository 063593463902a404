#!/usr/bin/env bash
# A private, local Docker engine for development, tests and CI.
#
# Usage: scripts/docker-engine.sh start|stop|status|addr|env|prune|purge
#
#   start   reuse the engine at the well-known location if it answers, else
#           (installing docker.io and busybox-static first when root and
#           missing) start a private dockerd there; make sure the image
#           busybox:local exists; print the engine address on stdout.
#   stop    stop the private engine (and its containerd), if running.
#   status  exit 0 and print the address if the engine answers, else exit 1.
#   addr    print the engine address (unix:///…/docker.sock).
#   env     print `export DOCKER_HOST=…` and `export SWARMKIT_ENGINE_ADDR=…`.
#   prune   remove the task containers (label com.docker.swarm.task.id) that
#           swarmd agents left on this engine, unless a swarmd still uses it.
#           A test run that is killed leaves its tasks running; hundreds of
#           them once wedged the engine. `npm test` prunes before it starts.
#   purge   stop, then delete the engine's directory (images, containers, logs).
#
# The engine uses vfs storage, no bridge and no iptables, so it needs nothing
# from the host beyond root, cgroups and runc. Everything lives in one
# directory (default /tmp/swarmkit-ts-docker, override with SWARMKIT_DOCKER_DIR):
#   docker.sock  dockerd.pid  dockerd.log  data/  exec/  lock
# Progress and errors go to stderr; stdout carries only the answer, so
# `ADDR=$(scripts/docker-engine.sh start)` works.
set -euo pipefail

DIR="${SWARMKIT_DOCKER_DIR:-/tmp/swarmkit-ts-docker}"
TIMEOUT="${SWARMKIT_DOCKER_TIMEOUT:-60}"   # seconds to wait for dockerd
IMAGE="busybox:local"
SOCK="$DIR/docker.sock"
ADDR="unix://$SOCK"
PIDFILE="$DIR/dockerd.pid"
LOG="$DIR/dockerd.log"

# Applets linked into the image; tests and examples may use any of these.
APPLETS="sh ash sleep cat echo true false env ls mkdir rm rmdir touch cp mv ln
  id hostname pwd ps kill wc grep head tail test [ printf date uname stat
  seq tr cut sort uniq yes dd df du find xargs sed awk mount umount
  nproc free top wget nc httpd ip ifconfig timeout chmod chown whoami"

say() { echo "docker-engine: $*" >&2; }
die() { say "error: $*"; exit 1; }

docker_cli() {
  # Any docker CLI works: it negotiates the API version with the engine.
  command -v docker >/dev/null 2>&1 || die "no docker CLI found (install docker.io)"
  timeout 20 docker -H "$ADDR" "$@"
}

answers() {
  [ -S "$SOCK" ] && timeout 5 docker -H "$ADDR" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

dockerd_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

busybox_path() {
  local b
  for b in "${SWARMKIT_BUSYBOX:-}" /bin/busybox /usr/bin/busybox; do
    [ -n "$b" ] && [ -x "$b" ] || continue
    # Only a static busybox runs inside an image that has no libc.
    if ! ldd "$b" >/dev/null 2>&1; then echo "$b"; return 0; fi
  done
  return 1
}

install_missing() {
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v docker >/dev/null 2>&1 || need+=(docker.io)
  busybox_path >/dev/null || need+=(busybox-static)
  [ "${#need[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing ${need[*]}; install them (Debian: apt-get install -y docker.io busybox-static) or run as root"
  fi
  say "installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq docker.io busybox-static >&2 || die "apt-get install docker.io busybox-static failed"
}

start_dockerd() {
  [ "$(id -u)" = 0 ] || die "starting a private dockerd needs root (or start one yourself and set SWARMKIT_DOCKER_DIR)"
  mkdir -p "$DIR/data" "$DIR/exec"
  # A dockerd killed with SIGKILL leaves its containerd behind; it would keep
  # the exec-root busy, so stop it before starting afresh.
  local cpid
  cpid="$(cat "$DIR/exec/containerd/containerd.pid" 2>/dev/null || true)"
  if [ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null; then
    say "stopping leftover containerd (pid $cpid)"
    kill "$cpid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$SOCK"
  say "starting dockerd in $DIR (log: $LOG)"
  # setsid + nohup: the engine outlives the shell or test that started it.
  # dockerd launches its own containerd under --exec-root.
  setsid nohup dockerd \
    --storage-driver=vfs --bridge=none --iptables=false --ip6tables=false \
    --ip-masq=false --userland-proxy=false --shutdown-timeout=5 \
    --data-root="$DIR/data" --exec-root="$DIR/exec" \
    -H "$ADDR" --pidfile="$PIDFILE" \
    </dev/null >"$LOG" 2>&1 9>&- &
  local launcher=$! waited=0
  while ! answers; do
    if ! kill -0 "$launcher" 2>/dev/null && ! dockerd_pid >/dev/null; then
      say "dockerd exited during startup; last lines of $LOG:"
      tail -n 20 "$LOG" >&2 || true
      exit 1
    fi
    if [ "$waited" -ge $((TIMEOUT * 4)) ]; then
      say "dockerd did not answer on $ADDR within ${TIMEOUT}s; last lines of $LOG:"
      tail -n 20 "$LOG" >&2 || true
      exit 1
    fi
    sleep 0.25
    waited=$((waited + 1))
  done
  say "dockerd answers on $ADDR"
}

ensure_image() {
  if docker_cli image inspect "$IMAGE" >/dev/null 2>&1; then return 0; fi
  local bb root
  bb="$(busybox_path)" || die "no static busybox found (install busybox-static)"
  root="$(mktemp -d "$DIR/rootfs.XXXXXX")"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  local a
  for a in $APPLETS; do ln -sf busybox "$root/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  # No default Cmd on purpose: tasks always say what to run.
  tar -C "$root" -cf "$root.tar" . || die "could not build the image tarball"
  docker_cli import -c 'ENV PATH=/bin' "$root.tar" "$IMAGE" >/dev/null || die "docker import of $IMAGE failed"
  rm -rf "$root" "$root.tar"
  say "imported $IMAGE from $bb"
}

cmd_start() {
  mkdir -p "$DIR"
  # Serialise concurrent starts (parallel test files, CI steps).
  exec 9>"$DIR/lock"
  flock -w $((TIMEOUT + 30)) 9 || die "timed out waiting for $DIR/lock"
  if answers; then
    say "reusing the engine on $ADDR"
  else
    install_missing
    start_dockerd
  fi
  ensure_image
  echo "$ADDR"
}

cmd_stop() {
  local pid waited=0
  if ! pid="$(dockerd_pid)"; then
    say "no engine running in $DIR"
    return 0
  fi
  say "stopping dockerd (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 120 ]; then
      say "dockerd did not stop within 30s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      local cpid
      cpid="$(cat "$DIR/exec/containerd/containerd.pid" 2>/dev/null || true)"
      [ -n "$cpid" ] && kill -KILL "$cpid" 2>/dev/null || true
      break
    fi
    sleep 0.25
    waited=$((waited + 1))
  done
  say "stopped"
}

# PIDs of running processes whose command line names this engine's socket (a swarmd with
# --engine-addr unix://$SOCK); their task containers are theirs to keep.
engine_users() {
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid="${f#/proc/}"; pid="${pid%/cmdline}"
    [ "$pid" = "$$" ] && continue
    case "$({ tr '\0' ' ' <"$f"; } 2>/dev/null)" in
      *"--engine-addr unix://$SOCK"* | *"--engine-addr=unix://$SOCK"*) echo "$pid" ;;
    esac
  done
  return 0
}

cmd_prune() {
  if ! answers; then
    say "no engine answers on $ADDR; nothing to prune"
    return 0
  fi
  local users
  users="$(engine_users | tr '\n' ' ')"
  if [ -n "$users" ]; then
    say "not pruning: swarmd processes use this engine (pids $users)"
    return 0
  fi
  local ids
  ids="$(docker_cli ps -aq --filter label=com.docker.swarm.task.id)"
  if [ -z "$ids" ]; then
    say "no leftover task containers"
    return 0
  fi
  # shellcheck disable=SC2086 # one ID per word
  set -- $ids
  say "removing $# leftover task containers"
  printf '%s\n' "$@" | xargs -n 50 timeout 120 docker -H "$ADDR" rm -f >/dev/null || say "some containers could not be removed"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status)
    if answers; then echo "$ADDR"; else say "no engine answers on $ADDR"; exit 1; fi ;;
  addr) echo "$ADDR" ;;
  prune) cmd_prune ;;
  env) printf 'export DOCKER_HOST=%s\nexport SWARMKIT_ENGINE_ADDR=%s\n' "$ADDR" "$ADDR" ;;
  purge)
    cmd_stop
    # The exec root may hold leftover mounts; unmount before deleting.
    if [ -d "$DIR" ]; then
      grep -o " $DIR/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
      rm -rf "$DIR"
    fi
    say "removed $DIR" ;;
  *)
    echo "usage: $0 start|stop|status|addr|env|prune|purge" >&2
    exit 2 ;;
esac
