// Latency from textDocument/didChange to textDocument/publishDiagnostics on stdlib/resnet152.net,
// measured as an editor sees it (JSON-RPC over the server's stdio).
//
//   npm run build && node bench/lsp-latency.mjs [edits=30]
//
// The server runs with debounceMs 0 so the number is the check itself (parse, resolve, elaborate 500+
// layers, convert diagnostics, write JSON-RPC); the debounce an editor adds on top (default 150 ms,
// `netc lsp --debounce`, initializationOptions.debounceMs) is measured separately at the end.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LspClient, ROOT, uri } from '../test/lsp/client.mjs';

const EDITS = Number(process.argv[2] ?? 30);
const path = join(ROOT, 'stdlib/resnet152.net');
const text = readFileSync(path, 'utf8');
if (!/classes=1000/.test(text)) throw new Error('stdlib/resnet152.net no longer has classes=1000; adjust the edit');
// Each edit changes the classifier width, so every check elaborates the whole net again; every other
// edit also introduces a shape error, so both the clean and the error path are timed.
const edit = (i) => (i % 2 ? text.replace('classes=1000', `classes=${1000 + i}`) : text.replace('classes=1000', `classes=${1000 + i}`).replace(/\bgap\b/, 'maxpool 300'));

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function run(debounceMs, edits) {
  const client = new LspClient();
  try {
    await client.initialize({ debounceMs });
    const opened = client.nextDiagnostics(uri(path), 1);
    client.open(path, text);
    await opened;
    const times = [];
    let errors = 0;
    for (let i = 0; i < edits; i++) {
      const version = i + 2;
      const published = client.nextDiagnostics(uri(path), version);
      const start = performance.now();
      client.change(path, version, edit(i));
      const { diagnostics } = await published;
      times.push(performance.now() - start);
      errors += diagnostics.length > 0 ? 1 : 0;
    }
    await client.shutdown();
    return { times, errors };
  } finally {
    client.kill();
  }
}

const lines = (text.match(/\n/g) ?? []).length;
const { times, errors } = await run(0, EDITS);
const median = percentile(times, 50);
const p95 = percentile(times, 95);
console.log(`resnet152.net (${lines} lines), ${EDITS} edits, debounce 0 (${errors} of the checks reported a diagnostic)`);
console.log(`didChange -> publishDiagnostics: median ${median.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (target < 50 ms)`);
const debounced = await run(150, 5);
console.log(`with the default 150 ms debounce: median ${percentile(debounced.times, 50).toFixed(1)} ms (debounce + check)`);
process.exitCode = median < 50 ? 0 : 1;
