import type { OpDef } from './op.js';
import { requireFeatureMap } from './window.js';

export const flatten: OpDef = {
  name: 'flatten',
  summary: '[C, H, W] -> [C*H*W] (nn.Flatten)',
  nameBase: 'flatten',
  arity: 1,
  params: [],
  torchType: () => 'Flatten',
  infer: (_attrs, [input]) => [input!.reduce((a, b) => a * b, 1)],
};

export const identity: OpDef = {
  name: 'identity',
  summary: 'the input, unchanged (no layer is created)',
  nameBase: 'identity',
  arity: 1,
  elided: true,
  params: [],
  torchType: () => null,
  infer: (_attrs, [input]) => input!,
};

export const gap: OpDef = {
  name: 'gap',
  aliases: ['global_avgpool'],
  summary: 'global average pooling to [C, 1, 1] (nn.AdaptiveAvgPool2d(1))',
  nameBase: 'avgpool',
  arity: 1,
  params: [],
  torchType: () => 'AdaptiveAvgPool2d',
  attrs: () => ({ size: [1, 1] }),
  infer(_attrs, [input], ctx) {
    if (!requireFeatureMap('gap', input!, ctx)) return null;
    return [input[0], 1, 1];
  },
  window: (_attrs, [input]) => ({ kernel: input?.[1] ?? 1, stride: 1, dilation: 1 }),
};

export const adaptiveAvgpool: OpDef = {
  name: 'adaptive_avgpool',
  summary: 'average pooling to a fixed output size (nn.AdaptiveAvgPool2d)',
  nameBase: 'avgpool',
  arity: 1,
  params: [{ name: 'size', type: 'int|pair', positional: true, doc: 'output size, or (h, w)' }],
  torchType: () => 'AdaptiveAvgPool2d',
  attrs: (args) => ({ size: typeof args['size'] === 'number' ? [args['size'], args['size']] : (args['size'] as unknown as number[]) }),
  infer(attrs, [input], ctx) {
    if (!requireFeatureMap('adaptive_avgpool', input!, ctx)) return null;
    const [h, w] = attrs['size'] as number[];
    if (h! < 1 || w! < 1) {
      ctx.error('NET2004', `adaptive pooling output size must be positive, got ${h}x${w}`, { at: 'size' });
      return null;
    }
    return [input[0], h!, w!];
  },
  window: (attrs, [input]) => ({ kernel: Math.ceil((input?.[1] ?? 1) / ((attrs['size'] as number[])[0] ?? 1)), stride: 1, dilation: 1 }),
};
