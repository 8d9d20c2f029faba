// tardis-dev's own normalizers on a file of raw venue frames (one per line), called directly as
// tardis-dev's replayNormalized calls them: each line JSON.parse'd, then handed to every mapper
// that can handle it (trades and book tickers, the channels seismo reads). Prints frames/s and
// the normalized messages produced; the file is read before the clock starts.
//
//   node normalize.js EXCHANGE FILE [ROUNDS]
'use strict';
const fs = require('fs');
const { normalizeTrades, normalizeBookTickers } = require('tardis-dev');

const [exchange, file, roundsArg] = process.argv.slice(2);
const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
const rounds = Number(roundsArg || 3);
let best = Infinity;
let produced = 0;
for (let r = 0; r < rounds; ++r) {
  const local = new Date();
  const mappers = [normalizeTrades(exchange, local), normalizeBookTickers(exchange, local)];
  produced = 0;
  const t0 = process.hrtime.bigint();
  for (const line of lines) {
    const message = JSON.parse(line);
    for (const m of mappers) {
      if (!m.canHandle(message)) continue;
      const out = m.map(message, local);
      if (out === undefined) continue;
      for (const x of out) if (x !== undefined) ++produced;
    }
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  best = Math.min(best, secs);
}
console.log(JSON.stringify({ exchange, frames: lines.length, produced, seconds: best,
  frames_per_s: lines.length / best }));
