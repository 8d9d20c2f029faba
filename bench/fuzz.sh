#!/bin/sh
# Builds the fuzz/ targets with libFuzzer, ASan and UBSan (clang) and runs each from its
# checked-in corpus, for a time or a number of executions, printing one table row per target:
# executions, executions per second, coverage (libFuzzer's `cov:` edges) and findings. A finding
# (a crash, a leak, a sanitizer report, an abort of a target's own check) is written to
# build/fuzz/findings/<target>/ and fails the script: copy it into fuzz/corpus/<target>/ as
# `finding-<what>` once fixed, so that the test suite replays it ever after.
#
# usage: bench/fuzz.sh [-t SECONDS | -n RUNS] [-j JOBS] [TARGET ...]   (default: -t 60, every target)
set -eu
cd "$(dirname "$0")/.."
secs=60 runs= jobs=1
while getopts t:n:j: opt; do
  case $opt in
    t) secs=$OPTARG ;;
    n) runs=$OPTARG ;;
    j) jobs=$OPTARG ;;
    *) echo "usage: $0 [-t SECONDS | -n RUNS] [-j JOBS] [TARGET ...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
command -v clang++ >/dev/null || { echo "bench/fuzz.sh: clang++ is missing (apt-get install clang)" >&2; exit 2; }
B=build/fuzz
mkdir -p $B
CC=clang CXX=clang++ cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DSEISMO_FUZZ=ON -DSEISMO_SANITIZE=address,undefined \
  -DSEISMO_BUILD_TESTS=OFF -DSEISMO_BUILD_BENCH=OFF >$B/configure.log 2>&1 ||
  { tail -20 $B/configure.log >&2; exit 2; }
all=$(sed -n 's/^seismo_fuzz(\([a-z_]*\) .*/\1/p' fuzz/CMakeLists.txt)
for v in $(sed -n 's/^foreach(v \(.*\))$/\1/p' fuzz/CMakeLists.txt); do all="venue_$v $all"; done
all=$(echo "$all" | tr ' ' '\n' | grep -v '^venue_\${v}$' | sort -u)
targets=${*:-$all}
cmake --build $B -j2 --target $(for t in $targets; do printf 'fuzz_%s ' "$t"; done) >$B/build.log 2>&1 ||
  { grep -E 'error|FAILED' $B/build.log | head -20 >&2; exit 2; }
printf '| target | executions | exec/s | coverage (edges) | features | findings |\n|---|---:|---:|---:|---:|---:|\n'
status=0
for t in $targets; do
  work=$B/work/$t findings=$B/findings/$t
  rm -rf "$work" "$findings"; mkdir -p "$work" "$findings"
  if [ -n "$runs" ]; then limit="-runs=$runs"; else limit="-max_total_time=$secs"; fi
  log=$B/$t.log
  set +e
  TMPDIR=$work ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    $B/fuzz/fuzz_$t $limit -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -artifact_prefix="$findings/" -print_final_stats=1 "$work" fuzz/corpus/$t >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  found=$(ls "$findings" | wc -l)
  printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$found"
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    status=1
    echo "bench/fuzz.sh: $t: exit $rc, findings in $findings, log $log" >&2
  fi
done
exit $status
