/** Shared helpers for the front-end suites: in-memory compilation, the CLI as a process, the JSON schemas. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020Module from 'ajv/dist/2020.js';
import { compileSource, type CompileOptions, type CompileResult } from '../../src/api.js';
import type { Diagnostic } from '../../src/diagnostics/diagnostic.js';
import type { IRGraph, IRNode } from '../../src/ir/types.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const STDLIB = join(ROOT, 'stdlib');
export const BIN = join(ROOT, 'bin/netc.js');

/** Where in-memory files live; nothing is read from this directory on disk. */
export const VDIR = '/virtual-netc-test';
export const MAIN = `${VDIR}/main.net`;

/**
 * Compile `text` as `/virtual-netc-test/main.net`; `files` are further in-memory files (relative paths),
 * reachable with `use "./name.net"`. Stdlib modules and the prelude come from disk.
 */
export function compile(text: string, options: CompileOptions & { files?: Record<string, string> } = {}): CompileResult {
  const files = new Map(Object.entries(options.files ?? {}).map(([name, body]) => [resolve(VDIR, name), body]));
  return compileSource(text, MAIN, { ...options, readFile: (path) => (path === MAIN ? text : files.get(path)) });
}

/** The single graph of a file that must compile without errors. */
export function graphOf(text: string, options: CompileOptions & { files?: Record<string, string> } = {}): IRGraph {
  const result = compile(text, options);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`unexpected errors:\n${errors.map((d) => `${d.code} ${d.message}`).join('\n')}`);
  if (result.graphs.length !== 1) throw new Error(`expected one graph, got ${result.graphs.length}`);
  return result.graphs[0]!;
}

export function node(graph: IRGraph, name: string): IRNode {
  const found = graph.nodes.filter((n) => n.name === name);
  if (found.length !== 1) throw new Error(`${found.length} nodes named ${name}; names: ${graph.nodes.map((n) => n.name).join(', ')}`);
  return found[0]!;
}

export const output = (graph: IRGraph) => graph.nodes[graph.output]!;

/** Sum of weight + bias elements (torchsummary's count: buffers excluded). */
export function paramCount(graph: IRGraph): number {
  return graph.nodes.reduce((sum, n) => sum + n.weights.filter((w) => !w.buffer).reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0), 0);
}

/** The text a diagnostic's span covers. */
export function spanText(d: Diagnostic, text: string): string {
  return text.slice(d.span.start, d.span.end);
}

/**
 * Offsets of the `occurrence`-th (1-based) match of `needle` in `text`; a needle that is a word
 * (`c`, `A`, `3`) only matches whole words, so `c` does not match inside `block` or `conv`.
 */
export function offsetsOf(text: string, needle: string, occurrence = 1): { start: number; end: number } {
  const escaped = needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(/^\w+$/.test(needle) ? `(?<![\\w])${escaped}(?![\\w])` : escaped, 'g');
  const matches = [...text.matchAll(pattern)];
  const m = matches[occurrence - 1];
  if (!m) throw new Error(`\`${needle}\` occurs ${matches.length} times, fewer than ${occurrence}`);
  return { start: m.index!, end: m.index! + needle.length };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run `node bin/netc.js ...args` (dist/ must be built: `npm test` builds it first). */
export function netc(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): CliResult {
  ensureBuilt();
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...options.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env: env as NodeJS.ProcessEnv, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The CLI's main() in this process, stdout and stderr captured: the same code path as `bin/netc.js`
 * (its catch-all turns an exception into "internal error" plus a stack), without a process start.
 */
export async function netcInProcess(args: string[]): Promise<CliResult> {
  const { main } = await import('../../src/cli/main.js');
  const out: string[] = [];
  const err: string[] = [];
  const [writeOut, writeErr, exitCode] = [process.stdout.write, process.stderr.write, process.exitCode];
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    process.exitCode = undefined;
    const status = await main(args);
    return { status, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
    process.exitCode = exitCode;
  }
}

let built = false;
function ensureBuilt(): void {
  if (built) return;
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
    // tsc exits non-zero on type errors elsewhere but still emits; the existence check below decides.
    spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'ignore' });
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing and tsc could not build it');
  }
  built = true;
}

// ---- JSON schemas ----

type AjvClass = typeof Ajv2020Module extends { default: infer D } ? D : typeof Ajv2020Module;
const Ajv2020 = ((Ajv2020Module as unknown as { default?: AjvClass }).default ?? Ajv2020Module) as unknown as new (
  opts: object,
) => {
  addSchema(schema: object): void;
  getSchema(id: string): (((data: unknown) => boolean) & { errors?: unknown[] | null }) | undefined;
};

export const SCHEMA_IDS = {
  diagnostics: 'https://netc.dev/specs/diagnostics.schema.json',
  summary: 'https://netc.dev/specs/summary.schema.json',
  ir: 'https://netc.dev/specs/ir.schema.json',
} as const;

let ajv: InstanceType<typeof Ajv2020> | undefined;

/** Ajv in strict mode (the schemas must compile without warnings) with all three schemas loaded. */
export function schemas() {
  if (!ajv) {
    ajv = new Ajv2020({ strict: true, allErrors: true });
    for (const name of ['diagnostics', 'summary', 'ir']) {
      ajv.addSchema(JSON.parse(readFileSync(join(ROOT, 'specs', `${name}.schema.json`), 'utf8')) as object);
    }
  }
  return ajv;
}

/** Validate against a schema (or a `#/$defs/...` inside one); returns ajv's errors, [] when valid. */
export function schemaErrors(which: keyof typeof SCHEMA_IDS, data: unknown, fragment = ''): unknown[] {
  const validate = schemas().getSchema(SCHEMA_IDS[which] + fragment);
  if (!validate) throw new Error(`no schema ${which}${fragment}`);
  return validate(data) ? [] : (validate.errors ?? ['invalid']);
}
