#!/bin/sh
# seismo's venue adapters against tardis-dev's own normalizers on the same full venue captures
# (trades, tickers, order books, control frames): `seismo replay --venue V --ticks` and
# tardis-dev's trade and book-ticker mappers called directly (bench/tardis/normalize.js), each
# timed by itself, in the same run. Both produce their normalized ticks and store neither:
# tardis-dev's stay objects in memory, seismo's JSON lines go to /dev/null (a file's page-cache
# copy is the kernel's cost, 0.2 s a venue on the test VM, not the normalizer's). tardis-dev comes from the npm registry into a cache
# directory (never committed); the captures are built from tests/fixtures/venues/.
#
#   bench/tardis/compare.sh [FRAMES]     (default 1000000; SEISMO=path/to/seismo)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
frames=${1:-1000000}
seismo=${SEISMO:-$root/build/release/seismo}
cache=${SEISMO_TARDIS_DIR:-/var/tmp/seismo-tardis-dev}
work=$(mktemp -d /tmp/seismo_tardis.XXXXXX)
trap 'rm -rf "$work"' EXIT
command -v node >/dev/null && command -v npm >/dev/null || {
    echo "compare.sh: needs node and npm (apt-get install nodejs npm)" >&2; exit 2; }
[ -x "$seismo" ] || { echo "compare.sh: no seismo at $seismo (cmake --build --preset release)" >&2; exit 2; }
if [ ! -d "$cache/node_modules/tardis-dev" ]; then
    mkdir -p "$cache"
    (cd "$cache" && npm install --no-audit --no-fund --silent tardis-dev >/dev/null)
fi
echo "tardis-dev $(node -p "require('$cache/node_modules/tardis-dev/package.json').version"), node $(node --version), $frames frames per venue"
cd "$work"
python3 "$here/make_captures.py" "$root" "$frames"
printf '[engine]\nlateness = "10000d"\n' > norm.toml
printf '%-10s %14s %14s %8s\n' venue "seismo fr/s" "tardis fr/s" ratio
for v in binance coinbase okx; do
    ex=$v; [ "$v" = okx ] && ex=okex
    best=999
    for r in 1 2 3; do
        t0=$(date +%s.%N)
        "$seismo" replay "$v.tardis" --config norm.toml --format tardis --venue "$v" \
            --ticks /dev/null --deterministic --no-progress --out /dev/null 2>"$v.err" ||
            { cat "$v.err" >&2; exit 1; }
        t1=$(date +%s.%N)
        best=$(echo "$t1 - $t0" | bc -l | awk -v b="$best" '{ print ($1 < b) ? $1 : b }')
    done
    tardis=$(NODE_PATH="$cache/node_modules" node "$here/normalize.js" "$ex" "$v.jsonl" 3)
    tfps=$(echo "$tardis" | sed 's/.*"frames_per_s":\([0-9.]*\).*/\1/')
    sfps=$(echo "$frames / $best" | bc -l)
    printf '%-10s %14.0f %14.0f %7.1fx   (seismo: %s)\n' "$v" "$sfps" "$tfps" \
        "$(echo "$sfps / $tfps" | bc -l)" "$(head -1 "$v.err" | sed 's/^seismo: //')"
done
