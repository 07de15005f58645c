import type { OpDef } from './op.js';
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

/** The op table. Every pass looks operations up here. */
export const OPS: readonly OpDef[] = [
  conv, batchnorm, linear, maxpool, avgpool,
  reshape.gap, reshape.adaptiveAvgpool, reshape.flatten, reshape.identity,
  activations.relu, activations.relu6, activations.leakyrelu, activations.sigmoid, activations.tanh,
  activations.gelu, activations.silu, activations.hardswish, activations.hardsigmoid, activations.softmax, activations.dropout,
  chunk, channelShuffle, stochasticDepth,
  layernorm, layernorm2d, permute, layerScale, tokens, token, classToken, posEmbedding, attention,
  merge.input, merge.add, merge.concat, merge.scale,
];

const byName = new Map<string, OpDef>();
for (const op of OPS) byName.set(op.name, op);

/** Internal ops by key (IR nodes store `op.name`). */
export function opByKey(key: string): OpDef {
  const op = byName.get(key);
  if (!op) throw new Error(`internal error: no op '${key}'`);
  return op;
}

/** User-callable ops by any of their spellings. */
export const CALLABLE_OPS = new Map<string, OpDef>();
for (const op of OPS) {
  if (op.internal) continue;
  CALLABLE_OPS.set(op.name, op);
  for (const alias of op.aliases ?? []) CALLABLE_OPS.set(alias, op);
}

export type { OpDef } from './op.js';
