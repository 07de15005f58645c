import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { Shape, WeightSpec } from '../ir/types.js';
import { num } from '../lower/helpers.js';
import { slot, type Template } from '../export/template.js';
import { defineOp, type OpNode } from './op.js';
import { featuresLast, tfAxis } from './layout.js';

const affine = (d: number): WeightSpec[] => [
  { name: 'weight', shape: [d], trainable: true, buffer: false, init: { kind: 'ones' } },
  { name: 'bias', shape: [d], trainable: true, buffer: false, init: { kind: 'zeros' } },
];
const EPS = { name: 'eps', type: 'float', default: 1e-5, doc: 'added to the variance (torchvision ConvNeXt and ViT use 1e-6)' } as const;

function module(cls: string) {
  return (node: OpNode<{ eps: number }>, [input]: Shape[]): Template => {
    const eps = node.attrs.eps;
    const t: Template = [`${cls}(`, slot(cls === 'nn.LayerNorm' ? input![input!.length - 1]! : input![0]!, 'normalized_shape')];
    if (eps !== 1e-5) t.push(', eps=', slot(eps, 'eps'));
    t.push(')');
    return t;
  };
}

/**
 * nn.LayerNorm(D) over the last dimension: of a sequence [L, D], a vector [F], or a channels-last map
 * [H, W, C] (after `permute (0, 2, 3, 1)`, as in ConvNeXt's blocks). Affine, biased variance.
 */
export const layernorm = defineOp({
  name: 'layernorm',
  aliases: ['layer_norm'],
  summary: 'layer normalisation over the last dimension (nn.LayerNorm): sequences [L, D], vectors, channels-last maps',
  nameBase: 'ln',
  keeps: { input: true, extra: 1 },
  arity: 1,
  params: [EPS],
  torchType: () => 'LayerNorm',
  attrs: (args) => ({ eps: args.eps }),
  infer(_attrs, [input], ctx) {
    if (!featuresLast(input!)) {
      ctx.error('NET2014', `layernorm normalises the last dimension, and [${input!.join(', ')}] is a feature map whose last dimension is its width`, {
        help: "use `layernorm2d` to normalise the channels at each position (ConvNeXt's LayerNorm2d), or `permute (0, 2, 3, 1)` first",
      });
      return null;
    }
    return input!;
  },
  weights: (_attrs, [input]) => affine(input![input!.length - 1]!),
  pytorch: { module: module('nn.LayerNorm'), init: { weight: 'ones', bias: 'zeros' } },
  lower(ctx, node, [x]) {
    const rank = node.shape!.length;
    const layer = ctx.layers.layers.layerNormalization({ axis: tfAxis(rank, rank - 1), epsilon: num(node.attrs['eps'], 1e-5), name: ctx.layerName(node) });
    ctx.own(node, layer);
    return layer.apply(x!) as SymbolicTensor;
  },
});

/**
 * torchvision's LayerNorm2d (ConvNeXt): nn.LayerNorm over the channels of a feature map [C, H, W], at
 * every position. The export imports it from torchvision.models.convnext.
 */
export const layernorm2d = defineOp({
  name: 'layernorm2d',
  summary: "layer normalisation over the channels of a [C, H, W] map at each position (torchvision's LayerNorm2d, ConvNeXt)",
  nameBase: 'ln',
  keeps: { input: true, extra: 1 },
  arity: 1,
  params: [EPS],
  torchType: () => 'LayerNorm2d',
  attrs: (args) => ({ eps: args.eps }),
  infer(_attrs, [input], ctx) {
    if (input!.length !== 3) {
      ctx.error('NET2014', `layernorm2d normalises the channels of a feature map [C, H, W], got [${input!.join(', ')}]`, {
        help: 'use `layernorm` for the last dimension of a sequence or a vector',
      });
      return null;
    }
    return input!;
  },
  weights: (_attrs, [input]) => affine(input![0]!),
  pytorch: { module: module('torchvision.models.convnext.LayerNorm2d'), init: { weight: 'ones', bias: 'zeros' } },
  lower(ctx, node, [x]) {
    // Channels are the last tfjs axis of a feature map.
    const layer = ctx.layers.layers.layerNormalization({ axis: -1, epsilon: num(node.attrs['eps'], 1e-5), name: ctx.layerName(node) });
    ctx.own(node, layer);
    return layer.apply(x!) as SymbolicTensor;
  },
});
