import type { IRGraph, IRNode } from '../ir/types.js';
import { withDefaults, type OpDef, type Value } from './op.js';
import * as activations from './activations.js';
import { batchnorm } from './batchnorm.js';
import { channelShuffle } from './channel_shuffle.js';
import { chunk } from './chunk.js';
import { conv } from './conv.js';
import { linear } from './linear.js';
import * as merge from './merge.js';
import { avgpool, maxpool } from './pool.js';
import { stochasticDepth } from './stochastic_depth.js';
import * as reshape from './reshape.js';
import { layernorm, layernorm2d } from './layernorm.js';
import { permute } from './permute.js';
import { layerScale } from './layer_scale.js';
import { token, tokens } from './tokens.js';
import { classToken } from './class_token.js';
import { posEmbedding } from './pos_embedding.js';
import { attention } from './attention.js';

/** The op table. Every pass looks operations up here. Adding an op: its file, and one entry here. */
const TABLE = [
  conv,
  batchnorm,
  linear,
  maxpool,
  avgpool,
  reshape.gap,
  reshape.adaptiveAvgpool,
  reshape.flatten,
  reshape.identity,
  activations.relu,
  activations.relu6,
  activations.leakyrelu,
  activations.sigmoid,
  activations.tanh,
  activations.gelu,
  activations.silu,
  activations.hardswish,
  activations.hardsigmoid,
  activations.softmax,
  activations.dropout,
  chunk,
  channelShuffle,
  stochasticDepth,
  layernorm,
  layernorm2d,
  permute,
  layerScale,
  tokens,
  token,
  classToken,
  posEmbedding,
  attention,
  merge.input,
  merge.add,
  merge.concat,
  merge.scale,
] as const;

/** The name of an operation: what IR nodes store in `op`. A union of literals, so a misspelt name does not compile. */
export type OpName = (typeof TABLE)[number]['name'];

/**
 * Compile-time guard: an op declared as a plain `OpDef` (name: string) would widen OpName to `string`
 * and let every name through. Declare ops with `defineOp` (src/ops/op.ts).
 */
export const OP_NAMES_ARE_LITERALS: string extends OpName ? 'an op in OPS is not declared with defineOp' : true = true;

/** An op of the table. */
export type Op = OpDef<OpName>;

export const OPS: readonly Op[] = TABLE;

const byName = new Map<string, Op>();
for (const op of OPS) byName.set(op.name, op);

/** Ops by key (IR nodes store `op.name`). */
export function opByKey(key: OpName): Op {
  const op = byName.get(key);
  if (!op) throw new Error(`internal error: no op '${key}'`);
  return op;
}

/** The op of an IR node. */
export const opOf = (node: Pick<IRNode, 'op'>): Op => opByKey(node.op);

/** The graph's input placeholder node? */
export const isGraphInput = (node: Pick<IRNode, 'op'>): boolean => opOf(node).graphInput === true;

/** Whether the net's output is probabilities (it ends with a softmax): training uses the NLL of log p, and eval/predict read it as is. */
export const outputsProbabilities = (graph: Pick<IRGraph, 'nodes' | 'output'>): boolean => opOf(graph.nodes[graph.output]!).outputsProbabilities === true;

/** User-callable ops by any of their spellings. */
export const CALLABLE_OPS = new Map<string, Op>();
for (const op of OPS) {
  if (op.internal) continue;
  CALLABLE_OPS.set(op.name, op);
  for (const alias of op.aliases ?? []) CALLABLE_OPS.set(alias, op);
}

/** The op merging the operands of `a + b`, `a ++ b` (and `[a | b]`) or `a * b`. */
export function mergeOp(operator: NonNullable<OpDef['operator']>): Op {
  const op = OPS.find((o) => o.operator === operator);
  if (!op) throw new Error(`internal error: no op for '${operator}'`);
  return op;
}

/** The graph input's op. */
export const INPUT: Op = OPS.find((o) => o.graphInput)!;

/**
 * `shortcut`'s projection when the body changes the shape: torchvision's `downsample`, a 1x1 conv
 * without bias at the given stride then batch norm, every other argument at its op's default.
 */
export function shortcutProjection(out: number, stride: number): { op: Op; args: Record<string, Value> }[] {
  return [
    { op: conv, args: withDefaults(conv, { out, k: 1, stride, bias: false }) },
    { op: batchnorm, args: withDefaults(batchnorm, {}) },
  ];
}

export { withDefaults } from './op.js';
export type { OpDef, Value } from './op.js';
