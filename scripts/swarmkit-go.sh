#!/usr/bin/env bash
# SwarmKit's own Go swarmctl and swarmd, built from Debian's source package,
# so tests can check that the real Go swarmctl works against our swarmd.
#
# Usage: scripts/swarmkit-go.sh build|env|paths|status|clean
#
#   build   reuse the binaries in the cache if they were built from the same
#           source version by this same script, else (installing golang-go and
#           the Go library packages first when root and missing) download the
#           docker.io source package, unpack SwarmKit and libnetwork into a
#           GOPATH, apply the two compatibility edits below and build
#           swarmctl and swarmd. Prints the two binary paths on stdout.
#   env     print `export SWARMKIT_SWARMCTL=…` and `export SWARMKIT_SWARMD=…`.
#   paths   print the two binary paths (built or not).
#   status  exit 0 if the cached binaries are present and current, else 1.
#   clean   delete the cache directory.
#
# Where the source comes from: Debian's docker.io source package carries
# SwarmKit's full source (commit cba102b, as vendored by Docker 20.10.24) as
# its orig-swarmkit tarball, with most of vendor/ stripped; the missing
# dependencies are Debian's golang-*-dev packages (GOPATH /usr/share/gocode),
# the same ones Debian builds docker.io with (its Build-Depends), plus
# golang-github-docker-docker-dev for the Docker client swarmd's executor uses.
# The source download uses a private deb-src list and a private apt state
# directory, so the system's own package lists are never touched.
#
# Everything lives in one directory (default /var/cache/swarmkit-ts/swarmkit-go,
# override with SWARMKIT_GO_DIR):
#   bin/swarmctl  bin/swarmd  bin/stamp  src/ (source package)  apt/  gocache/  lock
# Progress and errors go to stderr; stdout carries only the answer.
set -euo pipefail

DIR="${SWARMKIT_GO_DIR:-/var/cache/swarmkit-ts/swarmkit-go}"
# The docker.io source version the edits below were written for; if the
# mirror no longer has it, the build falls back to the current one and says so.
SRC_VERSION="${SWARMKIT_GO_SRC_VERSION:-20.10.24+dfsg1-1+deb12u1}"
SUITE="${SWARMKIT_GO_SUITE:-bookworm}"
MIRROR="${SWARMKIT_GO_MIRROR:-http://deb.debian.org/debian}"
LOCK_WAIT="${SWARMKIT_GO_LOCK_WAIT:-1800}"   # seconds a second build waits for the first
BIN="$DIR/bin"
SWARMCTL="$BIN/swarmctl"
SWARMD="$BIN/swarmd"
STAMP="$BIN/stamp"
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

# Packages needed besides the golang-* Build-Depends read from the .dsc.
BASE_PACKAGES="golang-go xz-utils ca-certificates"
EXTRA_GO_PACKAGES="golang-github-docker-docker-dev"

say() { echo "swarmkit-go: $*" >&2; }
die() { say "error: $*"; exit 1; }

# The stamp names what the binaries were built from: the requested source
# version and this script (its edits and build steps). A change to either
# rebuilds; the Go build cache makes a rebuild quick.
wanted_stamp() {
  echo "requested=$SRC_VERSION script=$(sha256sum "$SELF" | cut -d' ' -f1)"
}

is_current() {
  [ -x "$SWARMCTL" ] && [ -x "$SWARMD" ] && [ -f "$STAMP" ] &&
    [ "$(head -n 1 "$STAMP")" = "$(wanted_stamp)" ]
}

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

install_packages() {
  local need
  need="$(missing_packages "$@" | tr '\n' ' ')"
  need="${need% }"
  [ -z "$need" ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing packages: $need
  install them as root (Debian $SUITE): apt-get install -y --no-install-recommends $need
  or run this script as root"
  fi
  local n t0
  n="$(echo "$need" | wc -w)"
  t0=$(date +%s)
  say "installing $n package(s) with apt-get: $need"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  # shellcheck disable=SC2086 # word splitting intended: one argument per package
  apt-get install -y -qq --no-install-recommends $need >&2 ||
    die "apt-get install failed for: $need"
  say "installed $n package(s) in $(($(date +%s) - t0))s"
}

# apt-get with a private deb-src list and private state (lists, caches):
# never replaces the system's binary package lists, and works without root.
private_apt() {
  local a="$DIR/apt"
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
  local opts=""
  [ -r /usr/share/keyrings/debian-archive-keyring.gpg ] &&
    opts="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
  echo "deb-src ${opts}$MIRROR $SUITE main" >"$a/sources.list"
  apt-get -q \
    -o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$a/lists" -o Dir::Cache="$a/cache" \
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
    -o APT::Sandbox::User="$(id -un)" "$@"
}

# Checks every file a .dsc lists against its SHA-256 (run inside src/).
dsc_complete() {
  local dsc="$1" sum size name
  [ -f "$dsc" ] || return 1
  while read -r sum size name; do
    [ -n "$name" ] || continue
    [ -f "$name" ] && [ "$(sha256sum "$name" | cut -d' ' -f1)" = "$sum" ] || return 1
  done < <(sed -n '/^Checksums-Sha256:/,/^[^ ]/{/^ /p}' "$dsc")
}

# Downloads the docker.io source package into $DIR/src unless already there;
# prints the path of its .dsc.
fetch_source() {
  mkdir -p "$DIR/src"
  cd "$DIR/src"
  local want="docker.io_${SRC_VERSION#*:}.dsc"
  if dsc_complete "$want"; then
    say "source package docker.io $SRC_VERSION already downloaded"
    echo "$DIR/src/$want"
    return 0
  fi
  say "fetching the deb-src index for $SUITE from $MIRROR"
  private_apt update >&2 || die "apt-get update of the private deb-src list failed"
  if private_apt source --download-only "docker.io=$SRC_VERSION" >&2; then
    dsc_complete "$want" || die "downloaded docker.io $SRC_VERSION but its files do not match $want"
    echo "$DIR/src/$want"
    return 0
  fi
  say "warning: docker.io $SRC_VERSION is not on $MIRROR; trying the current docker.io source"
  private_apt source --download-only docker.io >&2 || die "apt-get source docker.io failed"
  local latest
  latest="$(ls -t docker.io_*.dsc | head -n 1)"
  dsc_complete "$latest" || die "downloaded $latest but its files do not match"
  echo "$DIR/src/$latest"
}

# The golang-* packages of the .dsc's Build-Depends: first alternative of
# each, without version or architecture qualifiers.
go_build_depends() {
  awk '/^Build-Depends:/ { on = 1; sub(/^Build-Depends:/, ""); print; next }
       on && /^[ \t]/ { print; next }
       { on = 0 }' "$1" | tr ',' '\n' |
    sed 's/|.*//; s/(.*)//; s/\[.*\]//; s/<.*>//; s/:any//; s/[[:space:]]//g' |
    grep '^golang-' | sort -u
}

# Edits for Debian's newer dependency versions, not SwarmKit behaviour: the
# Go packages Debian builds against are newer than those SwarmKit pinned, and
# two of their APIs changed. Neither touches the control API, the remote API
# or anything else on the wire.
#  1. Docker client >= 20.10: ContainerCreate takes a *specs.Platform before
#     the container name; nil means "the engine's own platform", which is
#     what the old call meant.
#  2. prometheus client_golang >= 1.0 dropped prometheus.Handler(); its
#     replacement promhttp.Handler() serves the same /metrics endpoint
#     (only used with --listen-metrics).
apply_edits() {
  local sk="$1" f
  f="$sk/agent/exec/dockerapi/adapter.go"
  sed -i 's/^\(\t\tc\.container\.networkingConfig(),\)$/\1 nil,/' "$f"
  grep -q '^		c\.container\.networkingConfig(), nil,$' "$f" ||
    die "edit 1 (ContainerCreate platform argument) did not apply to $f"
  f="$sk/cmd/swarmd/main.go"
  sed -i 's#^\t"github.com/prometheus/client_golang/prometheus"$#\t"github.com/prometheus/client_golang/prometheus/promhttp"#;
          s#prometheus\.Handler()#promhttp.Handler()#' "$f"
  grep -q 'promhttp\.Handler()' "$f" && ! grep -q 'prometheus\.Handler()' "$f" ||
    die "edit 2 (promhttp.Handler) did not apply to $f"
}

build() {
  local dsc="$1" work sk version t0
  version="$(sed -n 's/^Version: //p' "$dsc")"
  work="$(mktemp -d "$DIR/work.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf '$work'" EXIT
  local gp="$work/gopath/src/github.com/docker"
  mkdir -p "$gp" "$work/bin"
  local base="${dsc%.dsc}" upstream
  upstream="$(dirname "$dsc")/docker.io_$(echo "${version#*:}" | sed 's/-[^-]*$//')"
  [ -f "$upstream.orig-swarmkit.tar.xz" ] || die "no $upstream.orig-swarmkit.tar.xz beside $base.dsc"
  [ -f "$upstream.orig-libnetwork.tar.xz" ] || die "no $upstream.orig-libnetwork.tar.xz beside $base.dsc"
  tar -C "$gp" -xJf "$upstream.orig-swarmkit.tar.xz" ./swarmkit
  tar -C "$gp" -xJf "$upstream.orig-libnetwork.tar.xz" ./libnetwork
  sk="$gp/swarmkit"
  apply_edits "$sk"
  t0=$(date +%s)
  say "building swarmctl and swarmd from docker.io $version ($(go version | cut -d' ' -f3))"
  (
    cd "$sk"
    export GOPATH="$work/gopath:/usr/share/gocode" GO111MODULE=off GOFLAGS= GOCACHE="$DIR/gocache" CGO_ENABLED=0
    go build -o "$work/bin/swarmctl" ./cmd/swarmctl
    go build -o "$work/bin/swarmd" ./cmd/swarmd
  ) >&2 || die "go build failed (see above)"
  say "go build took $(($(date +%s) - t0))s"
  mkdir -p "$BIN"
  # Rename into place: a reader never sees a half-written binary.
  mv -f "$work/bin/swarmctl" "$SWARMCTL.new" && mv -f "$SWARMCTL.new" "$SWARMCTL"
  mv -f "$work/bin/swarmd" "$SWARMD.new" && mv -f "$SWARMD.new" "$SWARMD"
  { wanted_stamp; echo "built-from=docker.io $version"; } >"$STAMP"
  rm -rf "$work"
  trap - EXIT
}

cmd_build() {
  mkdir -p "$DIR" 2>/dev/null || die "cannot create $DIR (set SWARMKIT_GO_DIR to a writable directory)"
  [ -w "$DIR" ] || die "$DIR is not writable (set SWARMKIT_GO_DIR to a writable directory)"
  # Serialise concurrent builds: the second waits, then reuses the first's.
  exec 9>"$DIR/lock"
  flock -w "$LOCK_WAIT" 9 || die "timed out waiting for $DIR/lock"
  # Work trees left by an interrupted build (none can be in use: we hold the lock).
  rm -rf "$DIR"/work.*
  if is_current; then
    say "reusing $BIN ($(sed -n 's/^built-from=//p' "$STAMP"))"
  else
    # shellcheck disable=SC2086
    install_packages $BASE_PACKAGES
    local dsc
    dsc="$(fetch_source)"
    # shellcheck disable=SC2046
    install_packages $(go_build_depends "$dsc") $EXTRA_GO_PACKAGES
    build "$dsc"
  fi
  echo "$SWARMCTL"
  echo "$SWARMD"
}

case "${1:-}" in
  build) cmd_build ;;
  env)
    is_current || say "warning: $BIN is missing or stale; run scripts/swarmkit-go.sh build"
    printf 'export SWARMKIT_SWARMCTL=%s\nexport SWARMKIT_SWARMD=%s\n' "$SWARMCTL" "$SWARMD" ;;
  paths) printf '%s\n%s\n' "$SWARMCTL" "$SWARMD" ;;
  status)
    # Work trees left by an interrupted build (none can be in use: we hold the lock).
  rm -rf "$DIR"/work.*
  if is_current; then sed -n 's/^built-from=//p' "$STAMP"; else say "not built (or stale) in $BIN"; exit 1; fi ;;
  clean)
    rm -rf "$DIR"
    say "removed $DIR" ;;
  *)
    echo "usage: $0 build|env|paths|status|clean" >&2
    exit 2 ;;
esac
