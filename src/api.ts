import { resolve } from 'node:path';
import { Elaborator, type ElaborateOptions } from './bind/elaborate.js';
import { loadProgram, type LoadOptions, type Program } from './bind/program.js';
import { resolveDefinitions } from './bind/resolve.js';
import { type Diagnostic, DiagnosticBag } from './diagnostics/diagnostic.js';
import type { IRGraph } from './ir/types.js';

export interface CompileOptions extends ElaborateOptions, LoadOptions {
  /** Only this net (by name); all nets of the entry file otherwise. */
  net?: string;
}

export interface CompileResult {
  program: Program;
  graphs: IRGraph[];
  diagnostics: Diagnostic[];
}

/** Parse, resolve and elaborate a file and its imports into one IR graph per net. Never throws for user mistakes. */
export function compileSource(text: string, path: string, options: CompileOptions = {}): CompileResult {
  const absolute = resolve(path);
  const program = loadProgram(absolute, options, text);
  const bag = new DiagnosticBag();
  bag.items.push(...program.diagnostics.items);
  resolveDefinitions(program, bag);
  const graphs: IRGraph[] = [];
  const nets = [...program.entry.own.values()].filter((d) => d.kind === 'net');
  const chosen = options.net ? nets.filter((n) => n.name === options.net) : nets;
  if (options.net && chosen.length === 0) {
    bag.error('NET1001', `no net named \`${options.net}\` in this file`, { file: absolute, start: 0, end: 0 }, {
      help: nets.length ? `nets here: ${nets.map((n) => n.name).join(', ')}` : 'this file defines no net',
    });
  }
  for (const net of chosen) {
    if (net.kind !== 'net') continue;
    const elaborator = new Elaborator(bag);
    elaborator.files = (p) => program.files.get(p);
    const graph = elaborator.net(program.entry, net, options);
    if (graph) graphs.push(graph);
  }
  return { program, graphs, diagnostics: dedupe(bag.items) };
}

export function compileFile(path: string, options: CompileOptions = {}): CompileResult {
  const absolute = resolve(path);
  const text = options.readFile?.(absolute) ?? readText(absolute);
  return compileSource(text, absolute, options);
}

function readText(path: string): string {
  const program = loadProgram(path);
  return program.sources.get(path)!;
}

/** The static pass and elaboration can find the same mistake; report it once. */
function dedupe(items: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return items.filter((d) => {
    const key = `${d.code}|${d.span.file}|${d.span.start}|${d.span.end}|${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export type { Diagnostic } from './diagnostics/diagnostic.js';
export type { IRGraph, IRNode, Shape } from './ir/types.js';
