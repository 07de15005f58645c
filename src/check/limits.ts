import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { IRGraph, IRNode } from '../ir/types.js';
import { ALL_WEIGHTS, product, weightCount } from '../ir/size.js';
import { isGraphInput } from '../ops/index.js';

/**
 * Counts netc reports (elements, parameters, MACs, receptive fields) are JavaScript numbers: exact up to
 * 2^53 - 1. A network whose counts go beyond is reported here, once per kind, so no summary, IR or
 * JSON document ever carries a rounded count, Infinity or NaN.
 */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;

function big(n: number): string {
  return Number.isFinite(n) ? n.toExponential(2) : String(n);
}

function describe(node: IRNode): string {
  return isGraphInput(node) ? 'the input' : node.name ? `\`${node.op}\` (${node.name})` : `\`${node.op}\``;
}

/** Reports the first node at which any count leaves the exact integer range; returns whether all were exact. */
export function checkCounts(graph: IRGraph, diagnostics: DiagnosticBag): boolean {
  let params = 0;
  let macs = 0;
  let ok = true;
  const reported = new Set<string>();
  const report = (kind: string, node: IRNode, message: string): void => {
    ok = false;
    if (reported.has(kind)) return;
    reported.add(kind);
    diagnostics.error('NET1011', message, node.span, {
      help: 'netc counts exactly only up to 2^53 - 1 (about 9.0e15); check the sizes and repetition counts that lead here',
    });
  };
  for (const node of graph.nodes) {
    if (node.shape) {
      const elements = product(node.shape);
      if (!Number.isSafeInteger(elements)) {
        report('elements', node, `${describe(node)} would hold ${big(elements)} numbers per sample ([${node.shape.join(', ')}]), more than 2^53 - 1`);
      }
    }
    const own = weightCount(node, ALL_WEIGHTS);
    params += own;
    if (!Number.isSafeInteger(own) || !Number.isSafeInteger(params)) {
      report('params', node, `the parameter count reaches ${big(params)} at ${describe(node)}, more than 2^53 - 1`);
    }
    macs += node.macs;
    if (!Number.isSafeInteger(node.macs) || !Number.isSafeInteger(macs)) {
      report('macs', node, `the multiply-accumulate count reaches ${big(macs)} at ${describe(node)}, more than 2^53 - 1`);
    }
    if (!Number.isSafeInteger(node.receptiveField) || !Number.isSafeInteger(node.jump)) {
      report(
        'rf',
        node,
        `the receptive field or stride product reaches ${big(Number.isSafeInteger(node.jump) ? node.receptiveField : node.jump)} at ${describe(node)}, more than 2^53 - 1`,
      );
    }
  }
  return ok;
}

// ---- budgets: what one file may make `netc check` (and the language server) spend ----
// Chosen so that any accepted or rejected file is checked within a few seconds and a few hundred MB
// (measured figures in docs/robustness.md). The language server reuses them for its own scans.

/** Layers (IR nodes) in one net. The largest stdlib net (densenet161-sized) has under 1,000. */
export const MAX_LAYERS = 100_000;
/** Stages elaborated for one net (a repeated `identity` builds nothing but still costs time). */
export const MAX_ELABORATION_STEPS = 1_000_000;
/** Wall-clock backstop for elaborating one net, in milliseconds. */
export const MAX_ELABORATION_MS = 10_000;
/** Bytes of .net text one program (entry, imports, prelude) may read in all. */
export const MAX_PROGRAM_BYTES = 16 * 1024 * 1024;
/** Characters of one identifier (a label, block or parameter name). */
export const MAX_IDENTIFIER_CHARS = 256;
/** Characters of a layer's hierarchical name (`layer1.0.conv1`): labels nest up to 64 deep. */
export const MAX_LAYER_NAME_CHARS = 1_024;
/** Memory a check of one file stays within at these caps, in MiB (measured, with headroom). */
export const CHECK_MEMORY_BUDGET_MIB = 512;

// ---- output: what one diagnostic and one document may print ----

/** Characters of a message, label, note or help kept (the rest is counted). Paths can be 4,096. */
export const MAX_TEXT_CHARS = 5_000;
/** Columns of a source line shown in a snippet; a longer line is shown as a window around the span. */
export const MAX_SNIPPET_COLUMNS = 120;
/** Notes and related places shown per diagnostic. */
export const MAX_RENDERED_RELATED = 5;
/** Diagnostics kept per check; beyond it they are counted, and one NET1011 says how many. */
export const MAX_STORED_DIAGNOSTICS = 1_000;
/** Diagnostics rendered in one document: the kept ones and the one that counts the rest. */
export const MAX_RENDERED_DIAGNOSTICS = MAX_STORED_DIAGNOSTICS + 1;
/**
 * Characters of rendered text in one document: rendering stops at the first diagnostic past it. With one
 * diagnostic's own bound (MAX_TEXT_CHARS x (2 + 2 x MAX_RENDERED_RELATED) plus snippets) this bounds
 * `rendered`, and the LSP list carries the same diagnostics.
 */
export const MAX_RENDERED_CHARS = 1024 * 1024;
/** Characters of a layer's name in a summary table or JSON summary. */
export const MAX_NAME_CHARS = 200;
