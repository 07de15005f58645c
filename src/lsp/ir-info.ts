/** Reading the IR back at a source position: instances of a use, and the shape after each line. */
import type { IRGraph, Shape, Span } from '../ir/types.js';
import { weightCount } from '../ir/size.js';
import { isGraphInput } from '../ops/index.js';
import type { Range } from '../syntax/ast.js';
import type { Analysis, Expansion } from './analysis.js';

/** One thing the elaborator built from a piece of source: a layer node, a block instance or a macro use. */
export interface Instance {
  kind: 'layer' | 'block' | 'macro';
  /** Hierarchical name (`layer1.0.conv1`). */
  name: string;
  shape: Shape | null;
  params: number;
  macs: number;
  span: Span;
  /** Execution order of the instance's last node. */
  order: number;
  /** Graph and innermost enclosing block instance: instances in one context run one after another. */
  context: string;
}

function blockContext(graph: IRGraph, module: number | null): number {
  for (let m = module; m !== null; m = graph.modules[m]!.parent) if (graph.modules[m]!.kind === 'block') return m;
  return -1;
}

/**
 * Macro uses nest (a use inside a macro's body expands within the outer use's node range): for each node,
 * the innermost use whose range holds it, and for each use the next one out. Walking outward from there
 * is linear in the nesting depth, where testing every use for every node was quadratic in the file.
 */
function nesting(expansions: Expansion[], nodes: number): { innermost: Int32Array; parent: Int32Array } {
  const innermost = new Int32Array(nodes).fill(-1);
  const parent = new Int32Array(expansions.length).fill(-1);
  const order = expansions.map((_, i) => i).sort((a, b) => expansions[a]!.first - expansions[b]!.first || expansions[b]!.end - expansions[a]!.end);
  const stack: number[] = [];
  let next = 0;
  for (let at = 0; at < nodes; at++) {
    while (stack.length && expansions[stack[stack.length - 1]!]!.end <= at) stack.pop();
    while (next < order.length && expansions[order[next]!]!.first <= at) {
      const e = order[next++]!;
      while (stack.length && expansions[stack[stack.length - 1]!]!.end <= expansions[e]!.first) stack.pop();
      parent[e] = stack.length ? stack[stack.length - 1]! : -1;
      stack.push(e);
    }
    while (stack.length && expansions[stack[stack.length - 1]!]!.end <= at) stack.pop();
    innermost[at] = stack.length ? stack[stack.length - 1]! : -1;
  }
  return { innermost, parent };
}

/** Every instance whose span lies in `file`, from the given analyses' graphs. */
export function instancesIn(analyses: Analysis[], file: string): Instance[] {
  const out: Instance[] = [];
  analyses.forEach((analysis, a) => {
    analysis.result.graphs.forEach((graph, g) => {
      const expansions = analysis.expansions.filter((e) => e.nodes === graph.nodes && e.end > e.first);
      const { innermost, parent } = nesting(expansions, graph.nodes.length);
      /** The innermost block instance and the innermost macro use whose body holds the source at `span`. */
      const ctx = (module: number | null, span: Span, at: number, self?: Expansion) => {
        let m = innermost[at] ?? -1;
        while (m >= 0) {
          const e = expansions[m]!;
          if (e !== self && e.body.file === span.file && span.start >= e.body.start && span.end <= e.body.end) break;
          m = parent[m]!;
        }
        return `${a}:${g}:${blockContext(graph, module)}:${m}`;
      };
      let blockRows: Map<string, { totalParams: number; macs: number }> | undefined;
      for (const node of graph.nodes) {
        if (node.span.file !== file || isGraphInput(node)) continue;
        out.push({
          kind: 'layer',
          name: node.name,
          shape: node.shape,
          params: weightCount(node),
          macs: node.macs,
          span: node.span,
          order: node.id,
          context: ctx(node.module, node.span, node.id),
        });
      }
      for (const m of graph.modules) {
        if (m.kind !== 'block' || m.span.file !== file) continue;
        blockRows ??= new Map(
          analysis
            .summary(graph)
            .rows.filter((r) => r.kind === 'block')
            .map((r) => [r.name, r]),
        );
        const row = blockRows.get(m.name);
        out.push({
          kind: 'block',
          name: m.name,
          shape: graph.nodes[m.output]?.shape ?? null,
          params: row?.totalParams ?? 0,
          macs: row?.macs ?? 0,
          span: m.span,
          order: m.closesAfter,
          context: ctx(m.parent, m.span, m.closesAfter),
        });
      }
      for (const e of expansions) {
        if (e.span.file !== file) continue;
        const nodes = graph.nodes.slice(e.first, e.end);
        out.push({
          kind: 'macro',
          name: graph.nodes[e.output]?.name ?? '',
          shape: e.shape,
          params: nodes.reduce((s, n) => s + weightCount(n), 0),
          macs: nodes.reduce((s, n) => s + n.macs, 0),
          span: e.span,
          order: e.end - 1,
          context: ctx(graph.nodes[e.first]!.module, e.span, e.end - 1, e),
        });
      }
    });
  });
  return out;
}

/** The instances built from exactly this source range (a call). */
export function instancesOf(instances: Instance[], range: Range): Instance[] {
  return instances.filter((i) => i.span.start === range.start && i.span.end === range.end);
}

export function formatShape(shape: Shape | null): string {
  return shape ? `[${shape.join(', ')}]` : '?';
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatMacs(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} K`;
  return String(n);
}

/**
 * For each line, the shape(s) after it: in each context (a net, or one instance of the enclosing block)
 * the output of the last thing executed that ends on the line; distinct shapes across contexts.
 */
export function shapesByLine(instances: Instance[], lineOf: (offset: number) => number): Map<number, Shape[]> {
  const last = new Map<number, Map<string, Instance>>();
  for (const i of instances) {
    const line = lineOf(i.span.end);
    let perContext = last.get(line);
    if (!perContext) last.set(line, (perContext = new Map()));
    const current = perContext.get(i.context);
    if (!current || i.order > current.order) perContext.set(i.context, i);
  }
  const out = new Map<number, Shape[]>();
  for (const [line, perContext] of last) {
    const seen = new Set<string>();
    const shapes: Shape[] = [];
    for (const i of [...perContext.values()].sort((a, b) => a.order - b.order)) {
      if (!i.shape || seen.has(i.shape.join())) continue;
      seen.add(i.shape.join());
      shapes.push(i.shape);
    }
    if (shapes.length) out.set(line, shapes);
  }
  return out;
}
