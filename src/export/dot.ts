/**
 * IR -> Graphviz dot (`netc export NET --to dot`): one node per IR node, modules as nested clusters
 * (blocks solid, sequential scopes dashed), edges labelled with the shape that flows along them.
 */
import type { AttrValue, IRGraph, IRNode, Shape } from '../ir/types.js';
import { isGraphInput, opOf } from '../ops/index.js';
import { weightCount } from '../ir/size.js';

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

export const shapeLabel = (s: Shape | null) => (s ? s.join('×') : '?');

const pairText = (v: AttrValue | undefined) => (Array.isArray(v) ? (v[0] === v[1] ? String(v[0]) : v.join('x')) : String(v));

/** A short description of a node's settings: `3x3/2 p1, 64`. */
function details(node: IRNode): string {
  const a = node.attrs;
  const parts: string[] = [];
  if (a['kernel'] !== undefined) {
    const k = Array.isArray(a['kernel']) ? (a['kernel'] as number[]).join('x') : String(a['kernel']);
    const stride = pairText(a['stride']);
    parts.push(`${k}${stride !== '1' && stride !== 'undefined' ? `/${stride}` : ''}`);
    const pad = pairText(a['padding']);
    if (pad !== '0' && pad !== 'undefined') parts.push(`pad ${pad}`);
  }
  if (typeof a['out'] === 'number') parts.push(String(a['out']));
  if (typeof a['p'] === 'number') parts.push(`p=${a['p']}`);
  if (typeof a['slope'] === 'number') parts.push(`slope=${a['slope']}`);
  if (a['ceil'] === true) parts.push('ceil');
  return parts.join(', ');
}

export interface DotOptions {
  /** Graph direction: TB (default) or LR. */
  rankdir?: 'TB' | 'LR';
}

export function exportDot(graph: IRGraph, options: DotOptions = {}): string {
  const lines: string[] = [
    `digraph ${quote(graph.net)} {`,
    `  rankdir=${options.rankdir ?? 'TB'};`,
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
    '  graph [fontname="Helvetica", fontsize=11];',
  ];
  const nodeLine = (n: IRNode, indent: string): string => {
    if (isGraphInput(n)) return `${indent}n${n.id} [label=${quote(`input\n${shapeLabel(n.shape)}`)}, shape=ellipse, fillcolor="#e8f0fe"];`;
    const merge = opOf(n).dotLabel;
    if (merge) return `${indent}n${n.id} [label=${quote(merge)}, tooltip=${quote(n.name)}, shape=circle, fillcolor="#fff4d6"];`;
    const type =
      opOf(n).torchType(
        n.attrs,
        n.inputs.map((i) => graph.nodes[i]!.shape ?? []),
      ) ?? n.op;
    const d = details(n);
    const p = weightCount(n);
    const label = `${n.name}\n${type}${d ? ` ${d}` : ''}${p ? `\n${p.toLocaleString('en-US')} params` : ''}`;
    return `${indent}n${n.id} [label=${quote(label)}${p ? ', fillcolor="#eef7ee"' : ''}];`;
  };
  // Nested clusters: each module's own nodes, then its child modules.
  const children = new Map<number | null, number[]>();
  for (const m of graph.modules) children.set(m.parent, [...(children.get(m.parent) ?? []), m.id]);
  const own = new Map<number | null, IRNode[]>();
  for (const n of graph.nodes) own.set(n.module, [...(own.get(n.module) ?? []), n]);
  const emit = (module: number | null, indent: string) => {
    for (const n of own.get(module) ?? []) lines.push(nodeLine(n, indent));
    for (const c of children.get(module) ?? []) {
      const m = graph.modules[c]!;
      const label = m.kind === 'block' ? `${m.name}: ${m.type}` : m.name;
      lines.push(`${indent}subgraph ${quote(`cluster_${m.id}_${m.name}`)} {`);
      lines.push(
        `${indent}  label=${quote(label)}; labeljust=l; style=${m.kind === 'block' ? '"rounded"' : '"rounded,dashed"'}; color="${m.kind === 'block' ? '#3b6fb6' : '#999999'}";`,
      );
      emit(c, `${indent}  `);
      lines.push(`${indent}}`);
    }
  };
  emit(null, '  ');
  for (const n of graph.nodes) {
    for (const i of n.inputs) lines.push(`  n${i} -> n${n.id} [label=${quote(shapeLabel(graph.nodes[i]!.shape))}];`);
  }
  lines.push(`  output [label=${quote(`output\n${shapeLabel(graph.nodes[graph.output]!.shape)}`)}, shape=ellipse, fillcolor="#e8f0fe"];`);
  lines.push(`  n${graph.output} -> output [label=${quote(shapeLabel(graph.nodes[graph.output]!.shape))}];`);
  lines.push('}');
  return lines.join('\n') + '\n';
}
