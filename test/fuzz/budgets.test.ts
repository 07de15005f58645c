// Output, work and memory bounds of `netc check` (issue 14, items 1, 2 and 7a) and the wasm memory cap
// (item 5): each class of hostile input is generated here at the size the outside attack used, and the
// bound from src/check/limits.ts is asserted on what comes out. bench/fuzz.mjs runs more of each.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileFile, compileSource } from '../../src/api.js';
import {
  MAX_ELABORATION_STEPS,
  MAX_IDENTIFIER_CHARS,
  MAX_LAYERS,
  MAX_RENDERED_CHARS,
  MAX_SNIPPET_COLUMNS,
  MAX_STORED_DIAGNOSTICS,
  MAX_TEXT_CHARS,
} from '../../src/check/limits.js';
import { summarize } from '../../src/check/summary.js';
import { CATALOG } from '../../src/diagnostics/catalog.js';
import { diagnosticsDocument, renderAll } from '../../src/diagnostics/render.js';
import { estimateTrainingMemory, GiB, HEAP_FRAGMENTATION, sizeOfGraph, WASM_HEAP_LIMIT } from '../../src/train/memory.js';
// @ts-expect-error plain JavaScript shared with bench/fuzz.mjs
import { hugeLabels, longLineManyErrors, manyShortErrors } from './hostile.mjs';
// @ts-expect-error plain JavaScript shared with bench/fuzz.mjs
import { diagnosticProblems } from './invariants.mjs';

const ROOT = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'netc-budgets-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const built = existsSync(join(ROOT, 'dist/cli/main.js'));

function check(text: string, name = 'main.net') {
  const path = join(work, name);
  const r = compileSource(text, path);
  const doc = diagnosticsDocument(r.diagnostics, r.program.sources, [...r.program.sources.keys()]);
  const human = renderAll(r.diagnostics, r.program.sources);
  return { r, doc, human, json: JSON.stringify(doc) };
}

/** The most one diagnostic may render: its texts clipped, snippets a window, notes/related capped. */
const PER_DIAGNOSTIC = MAX_TEXT_CHARS * 12 + 8 * (MAX_SNIPPET_COLUMNS + 4200);

describe('output is bounded, whatever the number of errors and the length of lines', () => {
  it('1,000 unknown names on one line beside a 600 KB comment: every snippet is a window, the whole is bounded', () => {
    const text = longLineManyErrors(1000, 600_000);
    expect(text.length).toBeGreaterThan(600_000);
    const { r, doc, human, json } = check(text);
    expect(r.diagnostics.filter((d) => d.code === 'NET1001')).toHaveLength(1000);
    for (const line of human.split('\n')) expect(line.length).toBeLessThan(MAX_SNIPPET_COLUMNS + 80);
    expect(human.length).toBeLessThan(MAX_RENDERED_CHARS + PER_DIAGNOSTIC + 200);
    expect(json.length).toBeLessThan(4 * (MAX_RENDERED_CHARS + PER_DIAGNOSTIC));
    expect(doc.errors).toBe(1000);
    for (const d of r.diagnostics) expect(diagnosticProblems(d, r.program.sources, CATALOG)).toEqual([]);
  });
  it('3,000 errors in a small file: 1,000 kept, one NET1011 counting the rest; the document says how many', () => {
    const { r, doc, human } = check(manyShortErrors(3000));
    expect(r.diagnostics).toHaveLength(MAX_STORED_DIAGNOSTICS + 1);
    expect(r.diagnostics.at(-1)!.message).toBe('2,000 more diagnostics (2,000 errors) were found but not reported; only the first 1,000 are kept');
    expect(doc.errors).toBe(MAX_STORED_DIAGNOSTICS + 1);
    expect(human.length).toBeLessThan(MAX_RENDERED_CHARS + PER_DIAGNOSTIC + 200);
  });
  it('a 100,000-character label is NET1011 at its token; a 200-character one repeated 20,000 times prints a bounded table', () => {
    const long = check(hugeLabels(100_000, 3));
    expect(long.r.diagnostics.map((d) => d.code)).toContain('NET1011');
    expect(long.r.diagnostics.find((d) => d.code === 'NET1011')!.message).toBe(`a name of 100,000 characters is over the limit of ${MAX_IDENTIFIER_CHARS}`);
    expect(long.json.length).toBeLessThan(50_000);
    const many = compileSource(hugeLabels(MAX_IDENTIFIER_CHARS, 10_000), join(work, 'labels.net'));
    expect(many.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const rows = summarize(many.graphs[0]!).rows;
    for (const row of rows) expect(row.name.length).toBeLessThanOrEqual(200);
    expect(JSON.stringify(rows).length).toBeLessThan(rows.length * 500);
  });
});

describe('work is bounded: layers, elaboration steps', () => {
  it(`googlenet's body repeated 10,000 times stops at ${MAX_LAYERS.toLocaleString('en-US')} layers, in seconds`, () => {
    const g = readFileSync(join(ROOT, 'stdlib/googlenet.net'), 'utf8');
    const body = g.slice(g.indexOf('<') + 1, g.lastIndexOf('>')).replace(/\n/g, '; ');
    const t = performance.now();
    const { r } = check(`use "inception"\nnet g : [3, 224, 224] < < ${body} > * 10000 >\n`);
    expect(r.diagnostics.map((d) => d.message)).toContain(`the network has more than ${MAX_LAYERS.toLocaleString('en-US')} layers`);
    expect(performance.now() - t).toBeLessThan(15_000);
  });
  it('repeats that build nothing (identity) stop at the step budget', () => {
    const { r } = check('net n : [3, 8, 8] < < < < identity > * 10000 > * 10000 > * 10000 >\n');
    expect(r.diagnostics.map((d) => d.message)).toEqual([`the network takes more than ${MAX_ELABORATION_STEPS.toLocaleString('en-US')} elaboration steps`]);
  });
});

describe('special files are read with a hard cap', () => {
  it('`use` of a symlink to /proc/self/pagemap (stat size 0) is NET1006/NET1011 at the use, not gigabytes', () => {
    mkdirSync(join(work, 'proc'), { recursive: true });
    symlinkSync('/proc/self/pagemap', join(work, 'proc/x.net'));
    symlinkSync('/proc/self/status', join(work, 'proc/y.net'));
    writeFileSync(join(work, 'proc/main.net'), 'use "./x.net"\nuse "./y.net"\nnet n : [3, 8, 8] < relu >\n');
    const before = process.memoryUsage().rss;
    const r = compileFile(join(work, 'proc/main.net'));
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    const messages = r.diagnostics.map((d) => `${d.code} ${d.message}`);
    // pagemap: over 4 MiB, or refused by the kernel for an unaligned read; either way at the use.
    expect(messages[0]).toMatch(/^NET10(06|11) cannot import `\.\/x\.net`: .*x\.net (is over the limit of 4,194,304 bytes|cannot be read \(EINVAL\))/);
    // /proc/self/status is small: read (its text is not .net, so syntax errors follow), never trusted by size.
    expect(r.diagnostics.some((d) => d.span.file.endsWith('y.net'))).toBe(true);
  });
});

describe('the wasm heap bound', () => {
  it('--memory-limit cannot raise the 4 GiB of a wasm32 heap (vgg16 at batch 100,000 and --memory-limit 1e6)', () => {
    const vgg = sizeOfGraph(compileFile('stdlib/vgg16.net').graphs[0]!);
    expect(vgg.params).toBe(138_357_544);
    const e = estimateTrainingMemory(vgg, { optimizer: 'momentum', batchSize: 100_000 }, 'wasm', 1e6 * GiB);
    expect(e.limit).toBe(WASM_HEAP_LIMIT / HEAP_FRAGMENTATION);
    expect(e.limitWhy).toMatch(/--memory-limit cannot raise it/);
    expect(e.bytes).toBeGreaterThan(e.limit);
    expect(estimateTrainingMemory(vgg, { optimizer: 'momentum', batchSize: 8 }, 'cpu', 1e6 * GiB).limit).toBe(1e6 * GiB);
  });
});

describe.skipIf(!built)('through the CLI', () => {
  it('the long-line file: exit 1, one JSON document, no stack trace, bounded stdout', () => {
    const file = join(work, 'cli.net');
    writeFileSync(file, longLineManyErrors(1000, 600_000));
    const r = spawnSync(process.execPath, ['bin/netc.js', 'check', file, '--format', 'json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at |RangeError/);
    expect(r.stdout.length).toBeLessThan(8 * 1024 * 1024);
    expect(JSON.parse(r.stdout).diagnostics.errors).toBe(1000);
  });
});
