import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { pair, requireFeatureMap } from './window.js';
import { slot } from '../export/template.js';
import { defineOp, type OpDef } from './op.js';
import { product } from '../ir/size.js';

export const flatten = defineOp({
  name: 'flatten',
  summary: '[C, H, W] -> [C*H*W] (nn.Flatten)',
  nameBase: 'flatten',
  arity: 1,
  params: [],
  torchType: () => 'Flatten',
  keeps: { input: true },
  passThrough: true,
  infer: (_attrs, [input]) => [product(input!)],
  // A flat input is already flat (tfjs's Flatten refuses rank 2).
  lower: (ctx, node, [x]) => (ctx.inputShape(node).length === 1 ? x! : (ctx.flattenCHW(node, x, ctx.inputShape(node)) as SymbolicTensor)),
  pytorch: { module: () => ['nn.Flatten()'] },
});

export const identity = defineOp({
  name: 'identity',
  passThrough: true,
  summary: 'the input, unchanged (no layer is created)',
  nameBase: 'identity',
  arity: 1,
  elided: true,
  params: [],
  torchType: () => null,
  infer: (_attrs, [input]) => input!,
  lower: (_ctx, _node, [x]) => x!,
});

export const gap = defineOp({
  name: 'gap',
  aliases: ['global_avgpool'],
  summary: 'global average pooling to [C, 1, 1] (nn.AdaptiveAvgPool2d(1))',
  nameBase: 'avgpool',
  arity: 1,
  params: [],
  torchType: () => 'AdaptiveAvgPool2d',
  attrs: () => ({ size: [1, 1] as [number, number] }),
  globalPool: { test: () => true },
  keeps: { input: true },
  infer(_attrs, [input], ctx) {
    if (!requireFeatureMap('gap', input!, ctx)) return null;
    return [input[0], 1, 1];
  },
  window: (_attrs, [input]) => ({ kernel: input?.[1] ?? 1, stride: 1, dilation: 1 }),
  lower: (ctx, node, [x]) => globalPool(ctx, node, x!),
  pytorch: { module: () => ['nn.AdaptiveAvgPool2d((', slot(1, 'output_size'), ', ', slot(1, 'output_size'), '))'] },
});

/** Global average pooling, keeping PyTorch's [C, 1, 1] map when the IR shape has one. */
function globalPool(ctx: Parameters<NonNullable<OpDef['lower']>>[0], node: Parameters<NonNullable<OpDef['lower']>>[1], x: SymbolicTensor): SymbolicTensor {
  const keepMap = node.shape!.length === 3;
  const y = ctx.layers.layers.globalAveragePooling2d({ name: ctx.layerName(node, keepMap ? 'pool' : undefined) }).apply(x) as SymbolicTensor;
  return keepMap ? (new ctx.custom.ToMap11({ name: ctx.layerName(node) }).apply(y) as SymbolicTensor) : y;
}

export const adaptiveAvgpool = defineOp({
  name: 'adaptive_avgpool',
  summary: 'average pooling to a fixed output size (nn.AdaptiveAvgPool2d)',
  nameBase: 'avgpool',
  arity: 1,
  params: [{ name: 'size', type: 'int|pair', positional: true, doc: 'output size, or (h, w)' }],
  keeps: { input: true },
  torchType: () => 'AdaptiveAvgPool2d',
  attrs: (args) => ({ size: pair(args.size, 1) }),
  globalPool: { test: (attrs) => attrs.size[0] === 1 && attrs.size[1] === 1 },
  infer(attrs, [input], ctx) {
    if (!requireFeatureMap('adaptive_avgpool', input!, ctx)) return null;
    const [h, w] = attrs.size;
    if (h < 1 || w < 1) {
      ctx.error('NET2004', `adaptive pooling output size must be positive, got ${h}x${w}`, { at: 'size' });
      return null;
    }
    return [input[0], h, w];
  },
  window: (attrs, [input]) => ({ kernel: Math.ceil((input?.[1] ?? 1) / attrs.size[0]), stride: 1, dilation: 1 }),
  pytorch: {
    module(node) {
      const [h, w] = node.attrs.size;
      return ['nn.AdaptiveAvgPool2d((', slot(h, 'output_size'), ', ', slot(w, 'output_size'), '))'];
    },
  },
  lower(ctx, node, [x]) {
    const [, h, w] = ctx.inputShape(node);
    const [oh, ow] = node.attrs.size;
    if (oh === 1 && ow === 1) return globalPool(ctx, node, x!);
    if (h! % oh !== 0 || w! % ow !== 0) {
      // Overlapping or growing windows (7x7 from VGG's 1x1 on CIFAR): netc's general layer.
      return new ctx.custom.AdaptiveAvgPool2D({ size: [oh, ow], name: ctx.layerName(node) }).apply(x!) as SymbolicTensor;
    }
    const k: [number, number] = [h! / oh, w! / ow];
    return ctx.layers.layers.averagePooling2d({ poolSize: k, strides: k, padding: 'valid', name: ctx.layerName(node) }).apply(x!) as SymbolicTensor;
  },
});
