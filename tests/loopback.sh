#!/usr/bin/env bash
# scripts/lib.sh's require_loopback_only, each way it reads the listening
# sockets (/proc on Linux, lsof where there is no /proc): a server on loopback
# passes, one on every interface is refused, a port nobody listens on is
# named, and with neither way available it says why it cannot check.
# Prints "# pass N" / "# fail N" for scripts/test's count; exits 1 on failure.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/lib.sh"
ensure_python_env >/dev/null
if ! command -v lsof >/dev/null 2>&1; then
  [[ "$(id -u)" == 0 ]] || die "tests/loopback.sh needs lsof: sudo apt-get install -y lsof"
  say "installing lsof (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lsof >/dev/null
fi

listen() { # $1 address, $2 port: a listener until this script ends
  "$VENV/bin/python" -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(); time.sleep(600)' "$1" "$2" &
  LISTENERS+=("$!")
}
LISTENERS=()
trap 'kill "${LISTENERS[@]}" 2>/dev/null' EXIT
local_port="$(free_port)" open_port="$(free_port)"
while [[ "$open_port" == "$local_port" ]]; do open_port="$(free_port)"; done
unused_port="$(free_port)"
listen 127.0.0.1 "$local_port"
listen 0.0.0.0 "$open_port"
for _ in $(seq 50); do
  lsof -nP -iTCP:"$open_port" -sTCP:LISTEN >/dev/null 2>&1 && lsof -nP -iTCP:"$local_port" -sTCP:LISTEN >/dev/null 2>&1 && break
  sleep 0.1
done

pass=0 fail=0
# $1 way, $2 port, $3 expected exit (0 or 1), $4 text the answer must contain ("" for none)
check() {
  local out status=0
  out="$(PROFILE_LINK_LOOPBACK_CHECK="$1" bash -c 'source "$0/scripts/lib.sh"; require_loopback_only "$1" "the server"' "$here" "$2" 2>&1)" || status=$?
  if [[ "$status" == "$3" && "$out" == *"$4"* ]]; then
    pass=$((pass + 1)); echo "ok - $1 port $2: exit $status ${out:+($out)}"
  else
    fail=$((fail + 1)); echo "not ok - $1 port $2: expected exit $3 with \"$4\", saw exit $status: $out"
  fi
}
for way in proc lsof; do
  check "$way" "$local_port" 0 ""
  check "$way" "$open_port" 1 "not only on loopback: refusing to expose it"
  check "$way" "$unused_port" 1 "the server does not listen on port $unused_port"
done
check none "$local_port" 1 "cannot check that the server listens only on loopback (port $local_port): that needs /proc/net/tcp (Linux) or lsof"
echo "# pass $pass"
echo "# fail $fail"
((fail == 0))
