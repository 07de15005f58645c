import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type { Shape } from '../ir/types.js';
import { defineOp, type ShapeContext } from './op.js';
import { requireFeatureMap } from './window.js';

/** Requires a token sequence [L, D]; reports NET2014 and returns false otherwise. */
export function requireSequence(what: string, input: Shape, ctx: ShapeContext): input is [number, number] {
  if (input.length === 2) return true;
  ctx.error('NET2014', `${what} takes a token sequence [L, D], got [${input.join(', ')}]`, {
    help:
      input.length === 3
        ? 'make tokens of a feature map with `tokens` (x.flatten(2).transpose(1, 2))'
        : 'a vector has no tokens; this layer belongs before the token is taken out',
  });
  return false;
}

/**
 * `tokens`: a feature map [C, H, W] as a sequence [H*W, C], row by row: ViT's patch embedding after its
 * conv, `x.flatten(2).transpose(1, 2)` (torchvision writes reshape + permute). A function in PyTorch: no row.
 */
export const tokens = defineOp({
  name: 'tokens',
  summary: 'a feature map [C, H, W] as the token sequence [H*W, C]: x.flatten(2).transpose(1, 2) (a function: no row)',
  nameBase: 'tokens',
  arity: 1,
  params: [],
  torchType: () => null,
  infer(_attrs, [input], ctx) {
    if (!requireFeatureMap('tokens', input!, ctx)) return null;
    return [input[1] * input[2], input[0]];
  },
  pytorch: { expr: ([x]) => `${x}.flatten(2).transpose(1, 2)` },
  // [N, H, W, C] in tfjs: its rows in order are the tokens already.
  lower: (ctx, node, [x]) => ctx.layers.layers.reshape({ targetShape: node.shape!, name: ctx.layerName(node) }).apply(x!) as SymbolicTensor,
});

/** `token i`: the i-th token of a sequence, x[:, i] (ViT's classifier reads the class token, 0). A function: no row. */
export const token = defineOp({
  name: 'token',
  summary: 'the i-th token [D] of a sequence [L, D]: x[:, i] (ViT reads the class token, 0; a function: no row)',
  nameBase: 'token',
  arity: 1,
  params: [{ name: 'index', type: 'int', positional: true, default: 0, doc: 'which token, from 0' }],
  torchType: () => null,
  attrs: (args) => ({ index: args.index }),
  infer(attrs, [input], ctx) {
    if (!requireSequence('token', input!, ctx)) return null;
    const i = attrs.index;
    if (i >= input[0]) {
      ctx.error('NET2014', `token ${i} is out of range: the sequence has ${input[0]} tokens, 0 to ${input[0] - 1}`, { at: 'index' });
      return null;
    }
    return [input[1]];
  },
  pytorch: { expr: ([x], _inputs, attrs) => `${x}[:, ${attrs.index}]` },
  lower(ctx, node, [x]) {
    const L = ctx.inputShape(node)[0]!;
    const i = node.attrs.index;
    const D = node.shape![0]!;
    // Built-in layers only (tfjs has no cropping1D): [N, L, D] as an image [N, L, D, 1], rows cropped to row i.
    const L_ = ctx.layers.layers;
    const image = L_.reshape({ targetShape: [L, D, 1], name: ctx.layerName(node, 'image') }).apply(x!) as SymbolicTensor;
    const row = L_.cropping2D({
      cropping: [
        [i, L - i - 1],
        [0, 0],
      ],
      name: ctx.layerName(node, 'crop'),
    }).apply(image) as SymbolicTensor;
    return L_.reshape({ targetShape: [D], name: ctx.layerName(node) }).apply(row) as SymbolicTensor;
  },
});
