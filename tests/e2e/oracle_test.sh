#!/bin/bash
# End to end against an independent oracle: a generated day with bad lines mixed in, replayed by
# seismo, recomputed by tests/e2e/oracle.py (Python, no shared code), compared trigger for trigger.
set -euo pipefail
seismo=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The playbook with a lower breadth floor, so a small universe (fast for the Python oracle)
# still evaluates the A-share breadth.
sed 's/^min_members = 1000/min_members = 100/' "$here/../../deploy/config/playbook.toml" > "$work/cfg.toml"
grep -q '^min_members = 100$' "$work/cfg.toml"
for seed in 11 12; do
  "$seismo" sim --seed "$seed" --stocks 400 --stock-ticks 8 --bad-rate 0.01 --out "$work/day.jsonl"
  "$seismo" replay "$work/day.jsonl" --config "$work/cfg.toml" --deterministic \
    --out "$work/triggers.jsonl" --summary "$work/summary.json" --dead-letter "$work/dead.jsonl"
  /usr/bin/python3 "$here/oracle.py" --config "$work/cfg.toml" --input "$work/day.jsonl" \
    --triggers "$work/triggers.jsonl" --summary "$work/summary.json"
  # one dead letter per refusal
  rejected=$(/usr/bin/python3 -c 'import json,sys; print(sum(json.load(open(sys.argv[1]))["rejected"].values()))' "$work/summary.json")
  test "$(wc -l < "$work/dead.jsonl")" -eq "$rejected"
  test "$rejected" -gt 0
  rm -f "$work/dead.jsonl"
done
