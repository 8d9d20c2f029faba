#!/bin/bash
# Every recorded capture in tests/fixtures/recorded replays through its venue adapter with zero
# rejected frames, and the normalized trades agree, per instrument (count and last price), with
# an extraction written independently of the adapters (recorded_trades.py). The same trades as a
# Tardis CSV, and the captures compressed, replay to the same trades.
set -euo pipefail
seismo=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
config="$root/deploy/config/playbook.toml"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3
rejected() { $py -c 'import json,sys; print(sum(json.load(open(sys.argv[1]))["rejected"].values()))' "$1"; }
total_trades=0
for capture in "$root"/tests/fixtures/recorded/*.tardis.txt; do
  name=$(basename "$capture" .tardis.txt)
  venue=${name%%-*}
  # A capture without trades (a book) applies nothing: that is exit 1, with a warning.
  nothing=0; [ "$name" = kraken-v1-book ] && nothing=1
  rc=0; "$seismo" replay "$capture" --venue "$venue" --deterministic --out /dev/null \
    --ticks "$work/$name.ticks" --summary "$work/$name.summary" 2>/dev/null || rc=$?
  test "$rc" -eq "$nothing" || { echo "FAIL $name: exit $rc"; exit 1; }
  test "$(rejected "$work/$name.summary")" -eq 0 || { echo "FAIL $name: rejected frames"; cat "$work/$name.summary"; exit 1; }
  $py "$here/recorded_trades.py" extract "$venue" "$capture" "$config" > "$work/want.json"
  $py "$here/recorded_trades.py" ticks "$work/$name.ticks" > "$work/got.json"
  if ! cmp -s "$work/want.json" "$work/got.json"; then
    echo "FAIL $name: trades differ"; echo " want: $(cut -c1-400 "$work/want.json")"; echo " got:  $(cut -c1-400 "$work/got.json")"; exit 1
  fi
  n=$($py -c 'import json,sys; print(sum(c for c, _ in json.load(open(sys.argv[1])).values()))' "$work/want.json")
  total_trades=$((total_trades + n))
  echo "ok   $name: 0 rejected, $n trades over $($py -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/want.json") instruments match"
  # the same trades as a Tardis trades CSV (format sniffed)
  $py "$here/recorded_trades.py" csv "$venue" "$capture" "$config" "$work/$name.csv"
  rc=0; "$seismo" replay "$work/$name.csv" --venue "$venue" --deterministic --out /dev/null \
    --ticks "$work/$name.csv.ticks" --summary "$work/$name.csv.summary" 2>/dev/null || rc=$?
  csv_nothing=0; [ "$n" -eq 0 ] && csv_nothing=1  # no trades: an empty CSV applies nothing
  test "$rc" -eq "$csv_nothing" || { echo "FAIL $name: CSV exit $rc"; exit 1; }
  test "$(rejected "$work/$name.csv.summary")" -eq 0
  $py "$here/recorded_trades.py" ticks "$work/$name.csv.ticks" > "$work/got_csv.json"
  cmp -s "$work/want.json" "$work/got_csv.json" || { echo "FAIL $name: CSV trades differ"; exit 1; }
done
test "$total_trades" -gt 100
# compressed captures read the same
zstd -q -f "$root/tests/fixtures/recorded/okx-v5.tardis.txt" -o "$work/okx.zst"
gzip -c "$root/tests/fixtures/recorded/okx-v5.tardis.txt" > "$work/okx.gz"
"$seismo" replay "$root/tests/fixtures/recorded/okx-v5.tardis.txt" --venue okx --deterministic --out /dev/null --ticks "$work/plain.ticks" 2>/dev/null
for c in zst gz; do
  "$seismo" replay "$work/okx.$c" --venue okx --deterministic --out /dev/null --ticks "$work/$c.ticks" 2>/dev/null
  cmp "$work/plain.ticks" "$work/$c.ticks"
done
# --ticks round trip (docs/formats.md): capture -> triggers equals capture -> ticks -> triggers,
# for every capture, with signals that fire often on any instrument (tests/e2e/roundtrip.toml),
# feed-health gaps included (the ticks keep each venue's number space).
for capture in "$root"/tests/fixtures/recorded/*.tardis.txt; do
  name=$(basename "$capture" .tardis.txt)
  venue=${name%%-*}
  "$seismo" replay "$capture" --config "$here/roundtrip.toml" --venue "$venue" --feed cap \
    --deterministic --out "$work/$name.rt.direct" --ticks "$work/$name.rt.ticks" 2>/dev/null || true
  "$seismo" replay "$work/$name.rt.ticks" --config "$here/roundtrip.toml" --feed cap \
    --deterministic --out "$work/$name.rt.again" --summary "$work/$name.rt.summary" 2>/dev/null || true
  n=$(wc -l < "$work/$name.rt.direct")
  if [ "$name" != kraken-v1-book ] && [ "$n" -eq 0 ]; then echo "FAIL $name: no triggers to compare"; exit 1; fi
  cmp -s "$work/$name.rt.direct" "$work/$name.rt.again" || { echo "FAIL $name: --ticks does not replay to the capture's $n triggers"; exit 1; }
  test "$(rejected "$work/$name.rt.summary" 2>/dev/null || echo 0)" -eq 0 || { echo "FAIL $name: the ticks file has refusals"; exit 1; }
  echo "ok   $name: capture and its --ticks give the same $n triggers"
done
# a raw capture without --venue is a usage error
if "$seismo" replay "$root/tests/fixtures/recorded/okx-v5.tardis.txt" --out /dev/null 2>/dev/null; then echo "FAIL: no --venue accepted"; exit 1; else test $? -eq 2; fi
echo "all recorded captures agree ($total_trades trades)"
