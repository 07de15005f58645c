import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type { IRGraph, IRNode } from '../ir/types.js';

/**
 * Counts netc reports (elements, parameters, MACs, receptive fields) are JavaScript numbers: exact up to
 * 2^53 - 1. A network whose counts go beyond is reported here, once per kind, so no summary, IR or
 * JSON document ever carries a rounded count, Infinity or NaN.
 */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;

const product = (xs: number[]): number => xs.reduce((a, b) => a * b, 1);

function big(n: number): string {
  return Number.isFinite(n) ? n.toExponential(2) : String(n);
}

function describe(node: IRNode): string {
  return node.op === 'input' ? 'the input' : node.name ? `\`${node.op}\` (${node.name})` : `\`${node.op}\``;
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
    const own = node.weights.reduce((s, w) => s + product(w.shape), 0);
    params += own;
    if (!Number.isSafeInteger(own) || !Number.isSafeInteger(params)) {
      report('params', node, `the parameter count reaches ${big(params)} at ${describe(node)}, more than 2^53 - 1`);
    }
    macs += node.macs;
    if (!Number.isSafeInteger(node.macs) || !Number.isSafeInteger(macs)) {
      report('macs', node, `the multiply-accumulate count reaches ${big(macs)} at ${describe(node)}, more than 2^53 - 1`);
    }
    if (!Number.isSafeInteger(node.receptiveField) || !Number.isSafeInteger(node.jump)) {
      report('rf', node, `the receptive field or stride product reaches ${big(Number.isSafeInteger(node.jump) ? node.receptiveField : node.jump)} at ${describe(node)}, more than 2^53 - 1`);
    }
  }
  return ok;
}
