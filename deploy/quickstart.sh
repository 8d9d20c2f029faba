#!/bin/sh
# Installs what is missing, builds Release, and runs seismo's main job on its embedded default:
# the bundled demo day through the embedded liquidity-shock playbook.
set -eu
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
cmake --preset release
cmake --build --preset release
exec ./build/release/seismo run "$@"
