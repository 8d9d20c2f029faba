#!/bin/sh
# Installs what seismo needs to build, test and benchmark, from Debian 12 packages only.
# Idempotent: installs only what is missing, and runs apt-get only when something is.
# Run as root (or with sudo available).
set -eu

PACKAGES="
build-essential cmake ninja-build ccache pkg-config git
libboost1.81-dev libssl-dev ca-certificates
libsimdjson-dev libconcurrentqueue-dev libtomlplusplus-dev libcli11-dev
libzstd-dev zstd zlib1g-dev gzip
libgtest-dev libgmock-dev libbenchmark-dev
prometheus-cpp-dev libnats-dev nats-server
clang-format clang libclang-rt-14-dev
python3 python3-websockets prometheus chromium curl systemd
"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing:$missing -- run as root to install them" >&2
    exit 1
  fi
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
