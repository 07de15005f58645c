import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { defineOp } from './op.js';
import { refuseSequence } from './layout.js';

/**
 * `chunk n i`: the i-th of n equal channel slices, PyTorch's `x.chunk(n, dim=1)[i]` (ShuffleNetV2's split).
 * A function call in PyTorch, so it has no module and no summary row.
 */
export const chunk = defineOp({
  name: 'chunk',
  summary: 'the i-th of n equal channel slices: x.chunk(n, dim=1)[i] (a function: no module, no summary row)',
  nameBase: 'chunk',
  arity: 1,
  params: [
    { name: 'n', type: 'int', positional: true, aliases: ['chunks'], doc: 'how many equal slices' },
    { name: 'index', type: 'int', positional: true, default: 0, doc: 'which slice, from 0' },
  ],
  torchType: () => null,
  attrs: (args) => ({ n: args.n, index: args.index }),
  infer(attrs, [input], ctx) {
    if (!refuseSequence('chunk', input!, ctx, 'chunk splits channels; a sequence has none')) return null;
    const { n, index } = attrs;
    if (input![0]! % n !== 0) {
      ctx.error('NET2013', `chunk ${n} does not divide the ${input![0]} channels evenly`, { at: 'n', help: `the channels must be a multiple of ${n}` });
      return null;
    }
    if (index >= n) {
      ctx.error('NET1016', `chunk index ${index} is out of range: there are ${n} slices, 0 to ${n - 1}`, { at: 'index' });
      return null;
    }
    return [input![0]! / n, ...input!.slice(1)];
  },
  pytorch: { expr: ([x], _inputs, attrs) => `${x}.chunk(${attrs.n}, dim=1)[${attrs.index}]` },
  lower(ctx, node, [x]) {
    // Built-in layers only (a saved model loads without netc's classes): bring channels to the rows
    // axis, crop the rows outside the slice, and put the channels back last.
    const L = ctx.layers.layers;
    const input = ctx.inputShape(node);
    const size = node.shape![0]!;
    const begin = size * node.attrs.index;
    const cropping: [[number, number], [number, number]] = [
      [begin, input[0]! - begin - size],
      [0, 0],
    ];
    if (input.length === 1) {
      const map = L.reshape({ targetShape: [input[0]!, 1, 1], name: ctx.layerName(node, 'map') }).apply(x!) as SymbolicTensor;
      const cropped = L.cropping2D({ cropping, name: ctx.layerName(node, 'crop') }).apply(map) as SymbolicTensor;
      return L.reshape({ targetShape: [size], name: ctx.layerName(node) }).apply(cropped) as SymbolicTensor;
    }
    const rows = L.permute({ dims: [3, 1, 2], name: ctx.layerName(node, 'rows') }).apply(x!) as SymbolicTensor;
    const cropped = L.cropping2D({ cropping, name: ctx.layerName(node, 'crop') }).apply(rows) as SymbolicTensor;
    return L.permute({ dims: [2, 3, 1], name: ctx.layerName(node) }).apply(cropped) as SymbolicTensor;
  },
});
