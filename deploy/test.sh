#!/bin/sh
# Installs what is missing, builds, and runs the whole test suite: every test under
# Debug + ASan + UBSan, then the benchmarks briefly in Release so they keep working.
# Set SEISMO_WERROR=ON to treat warnings as errors (CI does).
set -eu
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
cmake --preset debug
cmake --build --preset debug
ctest --preset debug
cmake --preset release
cmake --build --preset release
ctest --preset release -L bench
echo "seismo: all tests passed"
