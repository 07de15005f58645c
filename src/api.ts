import { resolve } from 'node:path';
import { Elaborator, type ElaborateOptions } from './bind/elaborate.js';
import { loadProgram, type LoadOptions, type Program } from './bind/program.js';
import { resolveDefinitions } from './bind/resolve.js';
import { checkCounts, MAX_STORED_DIAGNOSTICS } from './check/limits.js';
import { type Diagnostic, DiagnosticBag } from './diagnostics/diagnostic.js';
import type { IRGraph } from './ir/types.js';
import { isStackOverflow } from './syntax/parse.js';

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
  return compile(resolve(path), options, text);
}

function compile(absolute: string, options: CompileOptions, text?: string): CompileResult {
  const program = loadProgram(absolute, options, text);
  const bag = new DiagnosticBag();
  // Not push(...items): a 4 MiB file of garbage has more diagnostics than a call can take arguments.
  for (const d of program.diagnostics.items) bag.add(d);
  const entrySpan = { file: absolute, start: 0, end: 0 };
  try {
    resolveDefinitions(program, bag);
  } catch (e) {
    if (!isStackOverflow(e)) throw e;
    bag.error('NET1011', 'the definitions nest too deeply to check', entrySpan, { help: 'split deep definitions into smaller blocks' });
    return { program, graphs: [], diagnostics: finish(bag, entrySpan) };
  }
  const graphs: IRGraph[] = [];
  const nets = [...program.entry.own.values()].filter((d) => d.kind === 'net');
  const chosen = options.net ? nets.filter((n) => n.name === options.net) : nets;
  if (options.net && chosen.length === 0) {
    bag.error(
      'NET1001',
      `no net named \`${options.net}\` in this file`,
      { file: absolute, start: 0, end: 0 },
      {
        help: nets.length ? `nets here: ${nets.map((n) => n.name).join(', ')}` : 'this file defines no net',
      },
    );
  }
  for (const net of chosen) {
    if (net.kind !== 'net') continue;
    const elaborator = new Elaborator(bag);
    elaborator.files = (p) => program.files.get(p);
    let graph: IRGraph | null;
    try {
      graph = elaborator.net(program.entry, net, options);
    } catch (e) {
      // A backstop: the parser's nesting limits keep real files far from the stack's end.
      if (!isStackOverflow(e)) throw e;
      bag.error(
        'NET1011',
        `net \`${net.name}\` nests too deeply to elaborate`,
        { file: absolute, ...net.nameRange },
        {
          help: 'split deep definitions into smaller blocks',
        },
      );
      continue;
    }
    // Counts beyond 2^53 are reported, so no summary carries a rounded count, Infinity or NaN.
    if (graph) checkCounts(graph, bag);
    if (graph) graphs.push(graph);
  }
  return { program, graphs, diagnostics: finish(bag, entrySpan) };
}

/** The bag's diagnostics, plus one saying how many were not kept (the bag holds a bounded number). */
function finish(bag: DiagnosticBag, entrySpan: Diagnostic['span']): Diagnostic[] {
  // The static pass and elaboration can find the same mistake: the bag keeps it once.
  const items = [...bag.items];
  const { error, warning, info, hint } = bag.dropped;
  const dropped = error + warning + info + hint;
  if (dropped > 0) {
    items.push({
      code: 'NET1011',
      severity: error > 0 ? 'error' : 'warning',
      span: entrySpan,
      related: [],
      notes: [],
      message: `${bag.droppedCountIsApproximate ? 'up to ' : ''}${dropped.toLocaleString('en-US')} more diagnostics (${error.toLocaleString('en-US')} errors) were found but not reported; only the first ${MAX_STORED_DIAGNOSTICS.toLocaleString('en-US')} are kept`,
      help: 'fix the first ones and check again',
    });
  }
  return items;
}

/** Reads the file (or options.readFile's text); a file that cannot be read is a diagnostic, not an exception. */
export function compileFile(path: string, options: CompileOptions = {}): CompileResult {
  const absolute = resolve(path);
  return compile(absolute, options, options.readFile?.(absolute));
}

export type { Diagnostic } from './diagnostics/diagnostic.js';
export type { IRGraph, IRNode, Shape } from './ir/types.js';
