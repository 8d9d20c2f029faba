#!/bin/bash
# The seismo binary's command-line contract: subcommands, help, exit codes (0 ok, 2 usage or
# config error, 1 failure), determinism of sim and replay, the demo run.
set -uo pipefail
seismo=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
check() { # check NAME EXPECTED_RC CMD...
  local name=$1 want=$2
  shift 2
  "$@" > "$work/out" 2> "$work/err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL $name: exit $rc, expected $want"; sed 's/^/  | /' "$work/err" | head -5
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}
contains() { # contains NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then echo "ok   $1"; else echo "FAIL $1: '$3' not in $2"; failures=$((failures + 1)); fi
}

check help 0 "$seismo" --help
for sub in run replay validate sim; do contains "help lists $sub" "$work/out" "$sub"; done
check replay-help 0 "$seismo" replay --help
for opt in --config --format --venue --out --ticks --summary --dead-letter --deterministic; do
  contains "replay help has $opt" "$work/out" "$opt"
done
check no-subcommand 2 "$seismo"
check unknown-subcommand 2 "$seismo" frobnicate
check unknown-option 2 "$seismo" replay --bogus x
check bad-format 2 "$seismo" replay --format csv x

check validate-playbook 0 "$seismo" validate deploy/config/playbook.toml
contains "validate prints the DAG" "$work/out" "crash_day (composite"
check validate-example-live 0 "$seismo" validate deploy/config/example-live.toml
printf '[[instrument]]\nsymbol = "A"\n\n[[signal]]\nname = "x"\nkind = "level"\ninstruments = ["B"]\nlevels = [{ at = 1 }]\n' > "$work/bad.toml"
check validate-bad 2 "$seismo" validate "$work/bad.toml"
contains "validate names file and line" "$work/err" "$work/bad.toml:7:"
contains "validate says what is wrong" "$work/err" "unknown instrument 'B'"
check validate-missing 2 "$seismo" validate "$work/nope.toml"
check replay-bad-config 2 "$seismo" replay --config "$work/bad.toml" "$work/x.jsonl"

check sim-a 0 "$seismo" sim --seed 5 --stocks 300 --out "$work/a.jsonl"
check sim-b 0 "$seismo" sim --seed 5 --stocks 300 --out "$work/b.jsonl"
check sim-same-bytes 0 cmp "$work/a.jsonl" "$work/b.jsonl"
check sim-other-seed 0 "$seismo" sim --seed 6 --stocks 300 --out "$work/c.jsonl"
check sim-seed-matters 1 cmp -s "$work/a.jsonl" "$work/c.jsonl"
check sim-unknown-scenario 2 "$seismo" sim --scenario nope --out "$work/x"

check replay-missing-input 1 "$seismo" replay "$work/nope.jsonl"
check replay-1 0 "$seismo" replay "$work/a.jsonl" --deterministic --out "$work/t1.jsonl"
check replay-2 0 "$seismo" replay "$work/a.jsonl" --deterministic --out "$work/t2.jsonl"
check replay-same-bytes 0 cmp "$work/t1.jsonl" "$work/t2.jsonl"
check replay-stdin 0 sh -c "\"$seismo\" replay - --deterministic < \"$work/a.jsonl\" > \"$work/t3.jsonl\""
check replay-stdin-same 0 cmp "$work/t1.jsonl" "$work/t3.jsonl"
zstd -q -f "$work/a.jsonl" -o "$work/a.jsonl.zst" && gzip -c "$work/a.jsonl" > "$work/a.jsonl.gz"
check replay-zst 0 "$seismo" replay "$work/a.jsonl.zst" --deterministic --out "$work/t4.jsonl"
check replay-zst-same 0 cmp "$work/t1.jsonl" "$work/t4.jsonl"
check replay-gz 0 "$seismo" replay "$work/a.jsonl.gz" --deterministic --out "$work/t5.jsonl"
check replay-gz-same 0 cmp "$work/t1.jsonl" "$work/t5.jsonl"

# Silent failures are failures: a wrong --venue, an alias naming a venue that does not exist,
# an alias whose symbol never appears each get a word, and nothing applied is exit 1.
root=$(cd "$(dirname "$0")/../.." && pwd)
okx="$root/tests/fixtures/recorded/okx-v5.tardis.txt"
check wrong-venue 1 "$seismo" replay "$okx" --venue binance --out /dev/null
contains "wrong venue: says the frames were ignored, and what they looked like" "$work/err" 'frames ignored by the binance adapter (a channel no signal uses, or the wrong venue?); the first: {"arg":{"channel":'
contains "wrong venue: says nothing was applied" "$work/err" "no tick was applied from 410 frames"
printf '[[instrument]]\nsymbol = "BTC/USD"\naliases = ["binanse:BTCUSDT"]\n' > "$work/typo.toml"
check alias-unknown-venue 2 "$seismo" validate "$work/typo.toml"
contains "alias naming an unknown venue: refused with its line" "$work/err" "typo.toml:3"
contains "alias naming an unknown venue: names it" "$work/err" "unknown venue 'binanse' in alias 'binanse:BTCUSDT'"
cat > "$work/quiet.toml" <<'TOML'
[[instrument]]
symbol = "BTC/USD"
aliases = ["okx:BTC-USDT-NOPE"]
[[instrument]]
symbol = "BTC-USDT"
aliases = ["okx:BTC-USDT"]
[[signal]]
name = "btc_low"
kind = "level"
instruments = ["BTC/USD", "BTC-USDT"]
levels = [{ at = 10, severity = "warning" }]
TOML
check alias-never-seen 0 "$seismo" replay "$okx" --venue okx --config "$work/quiet.toml" --out /dev/null --summary "$work/quiet.json"
contains "an alias whose symbol never appears: named" "$work/err" "warning: 1 of 2 configured instruments never got a tick: BTC/USD"
contains "and in the summary" "$work/quiet.json" '"warnings":["1 of 2 configured instruments never got a tick: BTC/USD'

# A capture piped on standard input is sniffed like a file (without losing the sniffed line).
"$seismo" replay "$okx" --venue okx --deterministic --out "$work/okx.file" 2>/dev/null
"$seismo" replay - --venue okx --deterministic --out "$work/okx.stdin" < "$okx" 2> "$work/okx.err"
if [ -s "$work/okx.stdin" ] && cmp -s "$work/okx.file" "$work/okx.stdin" && ! grep -q malformed "$work/okx.err"; then echo "ok   a Tardis capture on stdin replays as the file does"; else echo "FAIL stdin capture"; failures=$((failures + 1)); fi
"$seismo" replay - --deterministic --out "$work/t1.stdin" < "$work/a.jsonl" 2>/dev/null
check stdin-jsonl-same 0 cmp "$work/t1.jsonl" "$work/t1.stdin"

# The embedded default: the demo day through the live path. First triggers must show within
# 5 s; SIGINT must drain, flush and exit 0.
"$seismo" run --listen 127.0.0.1:0 --out "$work/audit.jsonl" > "$work/run.out" 2> "$work/run.err" &
pid=$!
start=$(date +%s%N)
first=""
for _ in $(seq 1 200); do
  if grep -q '"type":"trigger"' "$work/run.out" 2>/dev/null; then first=$(( ($(date +%s%N) - start) / 1000000 )); break; fi
  sleep 0.05
done
if [ -n "$first" ] && [ "$first" -lt 5000 ]; then echo "ok   demo: first trigger after ${first} ms"; else echo "FAIL demo: no trigger within 5 s"; failures=$((failures + 1)); fi
contains "demo prints the dashboard URL" "$work/run.err" "dashboard http://127.0.0.1:"
kill -INT "$pid"
stop=$(date +%s%N)
wait "$pid"
rc=$?
took=$(( ($(date +%s%N) - stop) / 1000000 ))
if [ "$rc" -eq 0 ] && [ "$took" -lt 5000 ]; then echo "ok   SIGINT: exit 0 after ${took} ms"; else echo "FAIL SIGINT: rc $rc after ${took} ms"; failures=$((failures + 1)); fi
contains "demo prints a summary on stop" "$work/run.err" "seismo: stopped:"
# the audit log holds exactly what was printed
if cmp -s "$work/run.out" "$work/audit.jsonl"; then echo "ok   audit log = stdout"; else echo "FAIL audit log differs from stdout"; failures=$((failures + 1)); fi

# SIGHUP reopens --out (log rotation) and reloads the config: the process keeps running, what
# came before is in the renamed file, what follows in the new one, nothing lost or doubled.
"$seismo" run --listen 127.0.0.1:0 --speed 600 --out "$work/rot.jsonl" --dead-letter "$work/rot.dead" > "$work/rot.out" 2> "$work/rot.err" &
pid=$!
for _ in $(seq 1 200); do grep -q '"type":"trigger"' "$work/rot.jsonl" 2>/dev/null && break; sleep 0.05; done
mv "$work/rot.jsonl" "$work/rot.jsonl.1"
kill -HUP "$pid"
for _ in $(seq 1 400); do [ -s "$work/rot.jsonl" ] && break; sleep 0.05; done
if kill -0 "$pid" 2>/dev/null && [ -s "$work/rot.jsonl" ]; then echo "ok   SIGHUP: still running, --out reopened"; else echo "FAIL SIGHUP: process gone or --out not reopened"; failures=$((failures + 1)); fi
kill -TERM "$pid"
wait "$pid"
rc=$?
contains "SIGHUP is logged" "$work/rot.err" "SIGHUP: reloading the config, reopening the output files"
contains "SIGHUP reloads the (unchanged) playbook: a no-op" "$work/rot.err" "unchanged: nothing to do"
contains "a stop after SIGHUP prints its summary" "$work/rot.err" "seismo: stopped:"
if [ "$rc" -eq 0 ] && cat "$work/rot.jsonl.1" "$work/rot.jsonl" | cmp -s - "$work/rot.out"; then echo "ok   rotated audit log: old + new = stdout"; else echo "FAIL rotated audit log (rc $rc)"; failures=$((failures + 1)); fi

if [ "$failures" -ne 0 ]; then echo "$failures failures"; exit 1; fi
echo "all CLI checks passed"
