#!/usr/bin/env node
// The long fuzz run of the front end (issue 6): the generators of test/fuzz/arbitraries.mjs, the
// invariants of test/fuzz/invariants.mjs, many more cases than CI runs. Needs `npm run build` first.
//
//   node bench/fuzz.mjs [CASES=20000] [--seed N] [--cli-every K] [--out DIR]
//   node bench/fuzz.mjs --hostile [--seed N] [--out DIR]   (issue 14's classes: bench/fuzz-hostile.mjs)
//
// Every case is compiled in-process (dist/) and checked: no exception, every diagnostic with a catalog
// code, a span inside its file and a one-line lowercase message, no Infinity/NaN/inexact count in the
// documents. Every K-th case (default 200) also goes through `node bin/netc.js check --format json`
// (exit 0 or 1, JSON valid against specs/, no stack trace). Each distinct failure is shrunk to a small
// reproducer, written to DIR (default: a fresh folder under the system temp dir). Exit 1 if any failed.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

if (process.argv.includes('--hostile')) {
  await import('./fuzz-hostile.mjs');
  process.exit(process.exitCode ?? 0);
}
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import Ajv2020Module from 'ajv/dist/2020.js';
import { mutatedFile, program, randomText, tokenSoup, validProgram } from '../test/fuzz/arbitraries.mjs';
import { checkCli, checkInProcess } from '../test/fuzz/invariants.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { compileSource } = await import(join(ROOT, 'dist/api.js'));
const { summarize } = await import(join(ROOT, 'dist/check/summary.js'));
const { CATALOG } = await import(join(ROOT, 'dist/diagnostics/catalog.js'));
const { diagnosticsDocument, renderAll } = await import(join(ROOT, 'dist/diagnostics/render.js'));
const api = { compileSource, CATALOG, diagnosticsDocument, renderAll, summarize };

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--')));
const CASES = Number(positional[0] ?? 20_000);
const SEED = Number(option('--seed', 1));
const CLI_EVERY = Number(option('--cli-every', 200));
const OUT = resolve(option('--out', '') || mkdtempSync(join(tmpdir(), `netc-fuzz-${SEED}-`)));
mkdirSync(OUT, { recursive: true });
if (!Number.isInteger(CASES) || CASES < 1) throw new Error(`usage: node bench/fuzz.mjs [CASES] [--seed N] [--cli-every K] [--out DIR]`);

const scratch = mkdtempSync(join(tmpdir(), 'netc-fuzz-case-'));
const STDLIB = join(ROOT, 'stdlib');
const stdlib = readdirSync(STDLIB)
  .filter((f) => f.endsWith('.net'))
  .sort();

/** Every case: which generator, the text, the path it is compiled as (stdlib mutations keep theirs). */
const scratchPath = join(scratch, 'case.net');
const caseArb = fc.oneof(
  randomText.map((text) => ({ kind: 'random text', text, path: scratchPath })),
  tokenSoup.map((text) => ({ kind: 'token soup', text, path: scratchPath })),
  program.map((text) => ({ kind: 'grammar-shaped', text, path: scratchPath })),
  validProgram.map((text) => ({ kind: 'mostly valid', text, path: scratchPath })),
  fc
    .constantFrom(...stdlib)
    .chain((name) => mutatedFile(readFileSync(join(STDLIB, name), 'utf8')).map((text) => ({ kind: 'stdlib mutation', text, path: join(STDLIB, name), name }))),
);

const Ajv2020 = Ajv2020Module.default ?? Ajv2020Module;
const ajv = new Ajv2020({ strict: false, allErrors: true });
for (const n of ['diagnostics', 'summary']) ajv.addSchema(JSON.parse(readFileSync(join(ROOT, 'specs', `${n}.schema.json`), 'utf8')));
const validateSummary = ajv.getSchema('https://netc.dev/specs/summary.schema.json');
const validate = (doc) => (validateSummary(doc) ? [] : (validateSummary.errors ?? ['invalid']));

/** A failure's identity: its first violation without numbers, paths and quoted text. */
function signature(violations) {
  return violations[0]
    .split('\n')
    .slice(0, 2)
    .join(' ')
    .replace(/"[^"]*"|`[^`]*`/g, 'S')
    .replace(/\/[\w./-]+/g, 'P')
    .replace(/\d+/g, 'N')
    .slice(0, 300);
}

/** Greedy delta debugging: drop chunks (halves down to single characters) while the same failure remains. */
function shrink(text, stillFails, budget = 3000) {
  let best = text;
  for (let size = Math.max(1, best.length >> 1); size >= 1 && budget > 0; size = size === 1 ? 0 : Math.max(1, size >> 1)) {
    for (let at = 0; at < best.length && budget > 0; ) {
      const candidate = best.slice(0, at) + best.slice(at + size);
      budget--;
      if (stillFails(candidate)) best = candidate;
      else at += size;
    }
  }
  return best;
}

const failures = new Map();
const perKind = new Map();
let cliRuns = 0;
let done = 0;
const started = Date.now();
const BATCH = 500;

const flaky = [];

function record(kind, how, item, violations, check) {
  const sig = `${how}: ${signature(violations)}`;
  const seen = failures.get(sig);
  if (seen) {
    seen.count++;
    return;
  }
  const fails = (t) => {
    const v = check(t);
    return v.length > 0 && `${how}: ${signature(v)}` === sig;
  };
  // A failure that does not happen again (dist/ rebuilt under a running CLI, a loaded machine) is
  // reported apart, with its text, and not shrunk.
  if (!fails(item.text)) {
    const file = join(OUT, `flaky-${flaky.length + 1}.net`);
    writeFileSync(file, item.text);
    writeFileSync(`${file}.txt`, `${how} (${kind}), did not fail again\n\n${violations.join('\n\n')}\n`);
    flaky.push({ file, first: violations[0].split('\n')[0] });
    console.log(`  not reproducible (${kind}, ${how}): ${violations[0].split('\n')[0].slice(0, 160)}\n    text: ${file}`);
    return;
  }
  // Each CLI attempt starts a process: shrink those less.
  const small = shrink(item.text, fails, how === 'cli' ? 150 : 3000);
  const file = join(OUT, `crash-${failures.size + 1}.net`);
  writeFileSync(file, small);
  writeFileSync(`${file}.txt`, `${how} (${kind}${item.name ? `, from stdlib/${item.name}` : ''}), compiled as ${item.path}\n\n${check(small).join('\n\n')}\n`);
  failures.set(sig, { count: 1, file, first: violations[0].split('\n')[0] });
  console.log(`  failure ${failures.size} (${kind}, ${how}): ${violations[0].split('\n')[0].slice(0, 160)}\n    reproducer: ${file} (${small.length} chars)`);
}

for (let batch = 0; done < CASES; batch++) {
  const items = fc.sample(caseArb, { seed: SEED * 1_000_003 + batch, numRuns: Math.min(BATCH, CASES - done) });
  for (const item of items) {
    done++;
    perKind.set(item.kind, (perKind.get(item.kind) ?? 0) + 1);
    const inProcess = (t) => checkInProcess(api, t, item.path);
    const v = inProcess(item.text);
    if (v.length) record(item.kind, 'in-process', item, v, inProcess);
    if (done % CLI_EVERY === 0) {
      cliRuns++;
      const cliFile = join(scratch, `cli-${item.name ?? 'case.net'}`);
      const throughCli = (t) => checkCli({ bin: join(ROOT, 'bin/netc.js'), validate }, t, cliFile);
      const c = throughCli(item.text);
      if (c.length) record(item.kind, 'cli', item, c, throughCli);
    }
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`${done}/${CASES} cases, ${cliRuns} through the CLI, ${failures.size} distinct failures, ${seconds.toFixed(0)} s`);
}

const seconds = (Date.now() - started) / 1000;
console.log(`\ncases run: ${done} in ${seconds.toFixed(1)} s (seed ${SEED}); ${cliRuns} of them also through the CLI`);
for (const [kind, n] of [...perKind].sort()) console.log(`  ${kind.padEnd(16)} ${n}`);
console.log(`crashes found: ${failures.size} distinct (${[...failures.values()].reduce((s, f) => s + f.count, 0)} cases)`);
for (const f of failures.values()) console.log(`  ${f.count} x ${f.first.slice(0, 200)}\n    reproducer: ${f.file}`);
if (flaky.length) console.log(`not reproducible: ${flaky.length}\n${flaky.map((f) => `  ${f.first.slice(0, 200)}\n    text: ${f.file}`).join('\n')}`);
if (failures.size || flaky.length) console.log(`files in ${OUT}`);
process.exit(failures.size ? 1 : 0);
