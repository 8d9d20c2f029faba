#!/bin/sh
# Installs what is missing, builds, and runs the whole test suite: the format check, every test
# under Debug + ASan + UBSan, the tests of code that crosses threads under ThreadSanitizer, then
# the benchmarks briefly in Release so they keep working. Set SEISMO_WERROR=ON to treat warnings
# as errors (CI does).
set -eu
cd "$(dirname "$0")/.."
./deploy/install-deps.sh

echo "seismo: format check (clang-format --dry-run -Werror)"
find app bench engine feeds fuzz signals tests -name '*.cpp' -o -name '*.hpp' | sort |
  xargs clang-format --dry-run -Werror

cmake --preset debug
cmake --build --preset debug
ctest --preset debug -LE soak

cmake --preset tsan
cmake --build --preset tsan --target runtime_test publish_test journal_test feeds_live_test replay_threads_test registry_threads_test
ctest --preset tsan -L threads

cmake --preset release
cmake --build --preset release --target seismo replay_bench journal_bench micro_bench venue_bench live_bench reload_bench scaling_bench nats_bench
ctest --preset release -L 'bench|soak'
echo "seismo: all tests passed"
