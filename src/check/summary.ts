import type { IRGraph, IRNode, ModuleInstance } from '../ir/types.js';
import { opOf } from '../ops/index.js';
import { product, weightCount } from '../ir/size.js';
import { MAX_NAME_CHARS } from './limits.js';

export interface SummaryRow {
  /** torchsummary's key: `Conv2d-1`. */
  row: string;
  /** Hierarchical name: `layer1.0.conv1`. */
  name: string;
  type: string;
  kind: 'layer' | 'block';
  /** With the batch as -1, as torchsummary prints it. */
  outputShape: number[];
  /** This row's own weights and biases (torchsummary's count; a block row has none of its own). */
  params: number;
  /** Everything inside the row: its own params for a layer, the sum of its layers for a block. */
  totalParams: number;
  trainableParams: number;
  /** Buffers (BatchNorm running statistics), counted only in tfjs mode. */
  buffers: number;
  macs: number;
  receptiveField: number;
  /** 1 at the top level, +1 inside each block. */
  depth: number;
  node?: number;
}

export type CountMode = 'torch' | 'tfjs';

export interface Summary {
  net: string;
  args: Record<string, unknown>;
  input: number[];
  rows: SummaryRow[];
  totalParams: number;
  trainableParams: number;
  nonTrainableParams: number;
  macs: number;
  countMode: CountMode;
  inputSizeMB: number;
  forwardBackwardMB: number;
  paramsMB: number;
  totalSizeMB: number;
}

const MB = 1024 ** 2;

/**
 * A label or block name can be as long as the file, and a row repeats it (with every enclosing label) on
 * every layer: names longer than MAX_NAME_CHARS keep their start and end around `...`, so a table or JSON
 * summary grows with the layer count only.
 */
export function clipName(name: string, max = MAX_NAME_CHARS): string {
  if (name.length <= max) return name;
  const tail = Math.floor((max - 3) / 2);
  return `${name.slice(0, max - 3 - tail)}...${name.slice(name.length - tail)}`;
}

function blockDepth(modules: ModuleInstance[], id: number | null): number {
  let depth = 0;
  for (let m = id; m !== null; m = modules[m]!.parent) if (modules[m]!.kind === 'block') depth++;
  return depth;
}

/**
 * torchsummary's table from the IR: a row per module call in execution order, a block's row after its
 * children, params = the module's own weight + bias, sizes from its formulas (4 bytes a number, batch 1).
 * In `tfjs` mode BatchNorm's running statistics count as non-trainable parameters, as tfjs counts them.
 */
export function summarize(graph: IRGraph, countMode: CountMode = 'torch'): Summary {
  const rows: SummaryRow[] = [];
  const counters = new Map<string, number>();
  const closing = new Map<number, ModuleInstance[]>();
  for (const m of graph.modules) {
    if (m.kind !== 'block') continue;
    const list = closing.get(m.closesAfter) ?? [];
    list.push(m);
    closing.set(m.closesAfter, list);
  }
  const subtree = new Map<number, { params: number; trainable: number; buffers: number; macs: number }>();
  const credit = (node: IRNode, params: number, trainable: number, buffers: number) => {
    for (let m = node.module; m !== null; m = graph.modules[m]!.parent) {
      const t = subtree.get(m) ?? { params: 0, trainable: 0, buffers: 0, macs: 0 };
      t.params += params;
      t.trainable += trainable;
      t.buffers += buffers;
      t.macs += node.macs;
      subtree.set(m, t);
    }
  };
  const key = (type: string) => `${clipName(type)}-${rows.length + 1}`;

  for (const node of graph.nodes) {
    const op = opOf(node);
    const inputs = node.inputs.map((i) => graph.nodes[i]!.shape ?? []);
    const type = node.shape ? op.torchType(node.attrs, inputs) : null;
    if (type) {
      const params = weightCount(node);
      const trainable = weightCount(node, (w) => !w.buffer && w.trainable);
      const buffers = countMode === 'tfjs' ? weightCount(node, (w) => w.buffer) : 0;
      credit(node, params, trainable, buffers);
      counters.set(type, (counters.get(type) ?? 0) + 1);
      rows.push({
        row: key(type),
        name: clipName(node.name),
        type: clipName(type),
        kind: 'layer',
        outputShape: [-1, ...node.shape!],
        params,
        totalParams: params + buffers,
        trainableParams: trainable,
        buffers,
        macs: node.macs,
        receptiveField: node.receptiveField,
        depth: blockDepth(graph.modules, node.module) + 1,
        node: node.id,
      });
    }
    const closed = (closing.get(node.id) ?? []).sort((a, b) => blockDepth(graph.modules, b.id) - blockDepth(graph.modules, a.id));
    for (const m of closed) {
      const out = graph.nodes[m.output]!;
      if (!out.shape) continue;
      const t = subtree.get(m.id) ?? { params: 0, trainable: 0, buffers: 0, macs: 0 };
      rows.push({
        row: key(m.type),
        name: clipName(m.name),
        type: clipName(m.type),
        kind: 'block',
        outputShape: [-1, ...out.shape],
        params: 0,
        totalParams: t.params + t.buffers,
        trainableParams: t.trainable,
        buffers: t.buffers,
        macs: t.macs,
        receptiveField: out.receptiveField,
        depth: blockDepth(graph.modules, m.parent) + 1,
      });
    }
  }

  const layers = rows.filter((r) => r.kind === 'layer');
  const totalParams = layers.reduce((s, r) => s + r.params + r.buffers, 0);
  const trainableParams = layers.reduce((s, r) => s + r.trainableParams, 0);
  const totalOutput = rows.reduce((s, r) => s + product(r.outputShape.slice(1)), 0);
  const inputSizeMB = (product(graph.input) * 4) / MB;
  const forwardBackwardMB = (2 * totalOutput * 4) / MB;
  const paramsMB = (totalParams * 4) / MB;
  return {
    net: graph.net,
    args: graph.args,
    input: graph.input,
    rows,
    totalParams,
    trainableParams,
    nonTrainableParams: totalParams - trainableParams,
    macs: graph.nodes.reduce((s, n) => s + n.macs, 0),
    countMode,
    inputSizeMB,
    forwardBackwardMB,
    paramsMB,
    totalSizeMB: inputSizeMB + forwardBackwardMB + paramsMB,
  };
}
