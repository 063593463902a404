#!/usr/bin/env bash
# A throwaway 3-member etcd 3.4 cluster on loopback, for bench:replication.
#
#   scripts/etcd-cluster.sh start <dir> [base-port] [tls]
#                                                     start 3 members; data, logs and pids live in <dir>;
#                                                     prints the client URLs, one a line, once all are healthy.
#                                                     With `tls`: a throwaway CA in <dir>/pki (openssl), members
#                                                     talk mutual TLS to each other and serve clients over TLS
#                                                     (no client certificate), as swarmd does; clients trust
#                                                     <dir>/pki/ca.crt.
#   scripts/etcd-cluster.sh leader <dir>              prints the leader's client URL
#   scripts/etcd-cluster.sh stop <dir>                stop the members started in <dir> and delete <dir>
#   scripts/etcd-cluster.sh install                   install Debian's etcd-server/etcd-client if etcd is missing
#
# Members listen for clients on base-port, +1, +2 and for peers on base-port+10, +11, +12 (default base 23790).
# Timing flags are etcd's defaults (heartbeat 100 ms, election 1000 ms); swarmd in the bench runs with a 100 ms tick
# (1-tick heartbeat). Neither matters for steady-state commits, which is all the bench measures.
set -euo pipefail

ETCD_NAMES=(e1 e2 e3)

die() { echo "etcd-cluster: $*" >&2; exit 1; }

# Running and not a zombie: our members are reparented to PID 1, which may be slow to reap them.
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

install_etcd() {
  if command -v etcd >/dev/null && command -v etcdctl >/dev/null; then return 0; fi
  [ "$(id -u)" = 0 ] || die "etcd is not installed and this is not root; run: sudo apt-get install -y etcd-server etcd-client"
  echo "etcd-cluster: installing etcd-server etcd-client with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server etcd-client >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server etcd-client >&2; } ||
    die "apt-get could not install etcd-server etcd-client"
}

check_version() {
  local v
  v=$(etcd --version 2>/dev/null | awk '/^etcd Version:/{print $3}')
  case "$v" in
    3.4.*) ;;
    *) die "need etcd 3.4, found '${v:-nothing}' ($(command -v etcd))" ;;
  esac
}

endpoints() { # <base-port> [scheme] -> comma-separated client URLs
  local base=$1 scheme=${2:-http}
  echo "$scheme://127.0.0.1:$base,$scheme://127.0.0.1:$((base + 1)),$scheme://127.0.0.1:$((base + 2))"
}

# A CA and one certificate for all members (SAN 127.0.0.1, server and client use): enough for loopback.
make_pki() {
  local pki=$1
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench-etcd-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=bench-etcd" -keyout "$pki/member.key" -out "$pki/member.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$pki/ext.cnf"
  openssl x509 -req -in "$pki/member.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 2 \
    -extfile "$pki/ext.cnf" -out "$pki/member.crt" 2>/dev/null
  chmod 600 "$pki"/*.key
}

# etcdctl's flags for the cluster in <dir>.
ctl_flags() {
  local dir=$1
  if [ -f "$dir/pki/ca.crt" ]; then echo "--cacert $dir/pki/ca.crt"; fi
}

start() {
  local dir=$1 base=${2:-23790} mode=${3:-plain}
  install_etcd
  check_version
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local scheme=http tls=()
  if [ "$mode" = tls ]; then
    command -v openssl >/dev/null || die "tls mode needs openssl (apt-get install -y openssl)"
    make_pki "$dir/pki"
    scheme=https
    tls=(--cert-file "$dir/pki/member.crt" --key-file "$dir/pki/member.key"
      --peer-cert-file "$dir/pki/member.crt" --peer-key-file "$dir/pki/member.key"
      --peer-trusted-ca-file "$dir/pki/ca.crt" --peer-client-cert-auth)
  elif [ "$mode" != plain ]; then
    die "unknown mode '$mode' (plain or tls)"
  fi
  local cluster="" i
  for i in 0 1 2; do
    cluster+="${cluster:+,}${ETCD_NAMES[$i]}=$scheme://127.0.0.1:$((base + 10 + i))"
  done
  echo "$base" >"$dir/base-port"
  echo "$scheme" >"$dir/scheme"
  for i in 0 1 2; do
    local name=${ETCD_NAMES[$i]} cport=$((base + i)) pport=$((base + 10 + i))
    # A clean environment: Debian's /etc/default/etcd style ETCD_* variables must not leak in.
    env -i PATH="$PATH" HOME="$dir" setsid etcd \
      --name "$name" \
      --data-dir "$dir/$name.data" \
      --listen-client-urls "$scheme://127.0.0.1:$cport" \
      --advertise-client-urls "$scheme://127.0.0.1:$cport" \
      --listen-peer-urls "$scheme://127.0.0.1:$pport" \
      --initial-advertise-peer-urls "$scheme://127.0.0.1:$pport" \
      ${tls[@]+"${tls[@]}"} \
      --initial-cluster "$cluster" \
      --initial-cluster-token "bench-$$" \
      --initial-cluster-state new \
      --logger zap --log-outputs stderr --log-level warn \
      </dev/null >"$dir/$name.log" 2>&1 &
    echo $! >"$dir/$name.pid"
  done
  local eps deadline=$((SECONDS + 30))
  eps=$(endpoints "$base" "$scheme")
  # shellcheck disable=SC2046
  until ETCDCTL_API=3 etcdctl $(ctl_flags "$dir") --endpoints "$eps" --dial-timeout 1s endpoint health >/dev/null 2>&1; do
    for i in 0 1 2; do
      alive "$(cat "$dir/${ETCD_NAMES[$i]}.pid")" ||
        { tail -n 20 "$dir/${ETCD_NAMES[$i]}.log" >&2; stop "$dir"; die "member ${ETCD_NAMES[$i]} exited during start"; }
    done
    if [ $SECONDS -ge $deadline ]; then
      tail -n 20 "$dir"/*.log >&2 || true
      stop "$dir"
      die "cluster not healthy within 30 s"
    fi
    sleep 0.2
  done
  tr ',' '\n' <<<"$eps"
}

leader() {
  local dir=$1 base scheme
  base=$(cat "$dir/base-port") || die "no cluster in $dir"
  scheme=$(cat "$dir/scheme" 2>/dev/null || echo http)
  # endpoint status lists each member's id and the leader id it sees; print the URL whose id is the leader's.
  # shellcheck disable=SC2046
  ETCDCTL_API=3 etcdctl $(ctl_flags "$dir") --endpoints "$(endpoints "$base" "$scheme")" endpoint status -w json |
    node -e '
      let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
        const st = JSON.parse(s);
        const hit = st.find((e) => e.Status.header.member_id === e.Status.leader);
        if (!hit) process.exit(1);
        console.log(hit.Endpoint);
      });'
}

stop() {
  local dir=$1 pid name pids=()
  [ -d "$dir" ] || return 0
  for name in "${ETCD_NAMES[@]}"; do
    [ -f "$dir/$name.pid" ] && pids+=("$(cat "$dir/$name.pid")")
  done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # A leader stopped together with its peers spends seconds trying to hand over leadership to them;
  # the data is thrown away, so after a short grace period SIGKILL whatever is left.
  local deadline=$((SECONDS + 2))
  for pid in "${pids[@]}"; do
    while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  done
  rm -rf "$dir"
}

case "${1:-}" in
  start) [ $# -ge 2 ] || die "usage: $0 start <dir> [base-port] [plain|tls]"; start "$2" "${3:-23790}" "${4:-plain}" ;;
  leader) [ $# -eq 2 ] || die "usage: $0 leader <dir>"; leader "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop <dir>"; stop "$2" ;;
  install) install_etcd; check_version; etcd --version | sed -n 1p ;;
  *) die "usage: $0 start <dir> [base-port] [plain|tls] | leader <dir> | stop <dir> | install" ;;
esac
