#!/usr/bin/env bash
# testssl.sh (Debian package testssl.sh) against examples/hello over HTTPS with a certificate made
# here (ECDSA P-256, self-signed: testssl then flags the chain of trust, as it should). Slow
# (several minutes), so not part of the tests; README's HTTPS section summarises one run.
#   bench/testssl.sh BUILD_DIR [extra testssl options…]     (scripts/dev testssl runs it)
set -euo pipefail
build=${1:?usage: bench/testssl.sh BUILD_DIR [testssl options…]}
shift
hello="$build/examples/hello/hello"
[ -x "$hello" ] || { echo "testssl: $hello not found; build first" >&2; exit 1; }
command -v testssl >/dev/null || { echo "testssl: install the Debian package testssl.sh" >&2; exit 1; }
dir=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$hello" --host 127.0.0.1 --port "$port" --workers 1 --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" \
  >"$dir/hello.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
  grep -q "listening on" "$dir/hello.log" && break
  sleep 0.1
done
testssl --quiet --color 0 --warnings off "$@" "https://127.0.0.1:$port/"
