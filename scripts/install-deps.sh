#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, and nothing when they are present.
#   scripts/install-deps.sh          build, run and test
#   scripts/install-deps.sh bench    also perf, for profiling benchmark runs
# The benchmark peers (nginx + nchan, wal2json) are base packages: make test runs every
# benchmark at a tiny size. clang, libclang-rt-14-dev (libFuzzer, ASan and UBSan
# runtimes) and llvm (llvm-symbolizer, for readable sanitizer reports) build build-asan/.
set -euo pipefail

packages=(
  build-essential g++ cmake pkg-config make git ca-certificates curl procps iproute2
  postgresql-15 postgresql-server-dev-15 postgresql-client-15
  libwebsockets-dev libwebsockets-evlib-ev libev-dev libzmq3-dev cppzmq-dev rapidjson-dev libpq-dev
  libssl-dev libcli11-dev
  libgtest-dev
  clang libclang-rt-14-dev llvm
  python3 python3-pytest python3-websockets python3-psycopg2 python3-zmq python3-cryptography
  nginx libnginx-mod-nchan postgresql-15-wal2json python3-matplotlib
  chromium
)
if [ "${1:-}" = bench ]; then
  packages+=(linux-perf)
fi
# realtime-js needs Node >= 18; use the machine's Node when it has one.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not start services (the system Postgres, nginx) on their ports.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  created_policy=1
fi
trap '[ $created_policy -eq 1 ] && $sudo rm -f "$policy"' EXIT
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
