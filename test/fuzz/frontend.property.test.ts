// Property-based robustness of the front end (issue 6): for any text, compiling never throws and every
// diagnostic is well-formed; through the real CLI, exit 0 or 1, one schema-valid JSON document, no stack
// trace. Fixed seed and bounded runs, so CI sees the same cases every time. bench/fuzz.mjs runs longer.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import Ajv2020Module from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import { compileSource } from '../../src/api.js';
import { summarize } from '../../src/check/summary.js';
import { CATALOG } from '../../src/diagnostics/catalog.js';
import { diagnosticsDocument, renderAll } from '../../src/diagnostics/render.js';
// @ts-expect-error plain JavaScript shared with bench/fuzz.mjs
import { mutatedFile, program, randomText, tokenSoup, validProgram } from './arbitraries.mjs';
// @ts-expect-error plain JavaScript shared with bench/fuzz.mjs
import { basicShape, checkCli, checkInProcess, diagnosticProblems } from './invariants.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin/netc.js');
const STDLIB = join(ROOT, 'stdlib');
const SEED = 20240606;
const api = { compileSource, CATALOG, diagnosticsDocument, renderAll, summarize };

const work = mkdtempSync(join(tmpdir(), 'netc-fuzz-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** In-process: the file lives in a scratch directory, so relative imports find nothing (or each other). */
function inProcess(text: string): string[] {
  return checkInProcess(api, text, join(work, 'case.net')) as string[];
}

function ensureBuilt(): void {
  if (existsSync(join(ROOT, 'dist/cli/main.js'))) return;
  spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'ignore' });
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing; run npm run build');
}

/** ajv over specs/summary.schema.json (+ diagnostics) when they exist; the basic structure otherwise. */
function validator(): (doc: unknown) => unknown[] {
  const files = ['diagnostics', 'summary'].map((n) => join(ROOT, 'specs', `${n}.schema.json`));
  if (!files.every(existsSync)) return basicShape as (doc: unknown) => unknown[];
  const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as new (
    o: object,
  ) => {
    addSchema(s: object): void;
    getSchema(id: string): ((d: unknown) => boolean) & { errors?: unknown[] | null };
  };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  for (const f of files) ajv.addSchema(JSON.parse(readFileSync(f, 'utf8')) as object);
  const validate = ajv.getSchema('https://netc.dev/specs/summary.schema.json');
  return (doc) => (validate(doc) ? [] : (validate.errors ?? ['invalid']));
}

let cliCase = 0;
function throughCli(text: string): string[] {
  ensureBuilt();
  return checkCli({ bin: BIN, validate: cliValidate }, text, join(work, `cli${cliCase++}.net`)) as string[];
}
const cliValidate = validator();

const stdlibFiles = readdirSync(STDLIB)
  .filter((f) => f.endsWith('.net'))
  .sort();

describe('the invariant checker itself', () => {
  it('flags a malformed diagnostic (unknown code, span past the end, capitalised two-line message)', () => {
    const sources = new Map([['/f.net', 'abc']]);
    const problems = diagnosticProblems(
      { code: 'NET9999', severity: 'error', message: 'Bad\nthing', span: { file: '/f.net', start: 1, end: 9 }, related: [] },
      sources,
      CATALOG,
    ) as string[];
    expect(problems.join('\n')).toMatch(/catalog/);
    expect(problems.join('\n')).toMatch(/outside the file/);
    expect(problems.join('\n')).toMatch(/several lines/);
    expect(problems.join('\n')).toMatch(/capital/);
  });
});

describe('in-process: any text compiles without throwing, and every diagnostic is well-formed', () => {
  it('random strings (any code units, and the language alphabet)', () => {
    fc.assert(
      fc.property(randomText, (text: string) => {
        expect(inProcess(text)).toEqual([]);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('token soups from the language tokens', () => {
    fc.assert(
      fc.property(tokenSoup, (text: string) => {
        expect(inProcess(text)).toEqual([]);
      }),
      { seed: SEED + 1, numRuns: 400 },
    );
  });

  it('grammar-shaped random programs', () => {
    fc.assert(
      fc.property(program, (text: string) => {
        expect(inProcess(text)).toEqual([]);
      }),
      { seed: SEED + 2, numRuns: 400 },
    );
  });

  it('mostly valid networks (typed layer sequences, sometimes with huge sizes)', () => {
    fc.assert(
      fc.property(validProgram, (text: string) => {
        expect(inProcess(text)).toEqual([]);
      }),
      { seed: SEED + 7, numRuns: 300 },
    );
  });

  it('the mostly valid generator reaches the summary: many of its networks compile without errors', () => {
    const samples = fc.sample(validProgram, { seed: SEED + 7, numRuns: 200 }) as string[];
    const clean = samples.filter((t) => {
      const r = compileSource(t, join(work, 'case.net'));
      return r.graphs.length > 0 && !r.diagnostics.some((d) => d.severity === 'error');
    });
    expect(clean.length).toBeGreaterThan(20);
  });

  it.each(stdlibFiles)('mutations of stdlib/%s (delete, duplicate, swap, truncate, insert tokens)', (name) => {
    const path = join(STDLIB, name);
    const original = readFileSync(path, 'utf8');
    // Compiled as if it were the stdlib file itself, so its `use` lines resolve as they do there.
    const check = (text: string) => checkInProcess(api, text, path) as string[];
    expect(check(original)).toEqual([]);
    fc.assert(
      fc.property(mutatedFile(original), (text: string) => {
        expect(check(text)).toEqual([]);
      }),
      { seed: SEED + 3, numRuns: 25 },
    );
  });
});

describe('through the CLI: exit 0 or 1, one schema-valid JSON document, no stack trace', () => {
  it('validates against specs/summary.schema.json when the schemas exist', () => {
    const usesSchema = cliValidate !== basicShape;
    expect(usesSchema).toBe(['diagnostics', 'summary'].every((n) => existsSync(join(ROOT, 'specs', `${n}.schema.json`))));
  });

  it('random strings and token soups', () => {
    fc.assert(
      fc.property(fc.oneof(randomText, tokenSoup), (text: string) => {
        expect(throughCli(text)).toEqual([]);
      }),
      { seed: SEED + 4, numRuns: 8 },
    );
  });

  it('grammar-shaped programs', () => {
    fc.assert(
      fc.property(program, (text: string) => {
        expect(throughCli(text)).toEqual([]);
      }),
      { seed: SEED + 5, numRuns: 8 },
    );
  });

  it('mostly valid networks', () => {
    fc.assert(
      fc.property(validProgram, (text: string) => {
        expect(throughCli(text)).toEqual([]);
      }),
      { seed: SEED + 8, numRuns: 8 },
    );
  });

  it('mutated stdlib files', () => {
    const mutated = fc.constantFrom(...stdlibFiles).chain((name: string) => mutatedFile(readFileSync(join(STDLIB, name), 'utf8')) as fc.Arbitrary<string>);
    fc.assert(
      fc.property(mutated, (text: string) => {
        expect(throughCli(text)).toEqual([]);
      }),
      { seed: SEED + 6, numRuns: 8 },
    );
  });
});
