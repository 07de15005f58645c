import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { defineOp } from './op.js';
import { isChannelsLast, markChannelsLast, tfAxis } from './layout.js';

/**
 * `permute (0, 2, 3, 1)`: torch.permute with the batch dimension included, as torchvision's Permute module
 * (ConvNeXt's blocks) writes it. A module in torchvision, so it has a summary row (no parameters).
 * Permuting a feature map [C, H, W] to [H, W, C] makes a channels-last map (src/ops/layout.ts).
 */
export const permute = defineOp({
  name: 'permute',
  summary: 'reorder dimensions, batch included: permute (0, 2, 3, 1) is [C, H, W] -> [H, W, C] (torchvision Permute)',
  nameBase: 'permute',
  arity: 1,
  params: [{ name: 'dims', type: 'ints', positional: true, doc: 'the new order of the dimensions, the batch (0) first: (0, 2, 3, 1)' }],
  torchType: () => 'Permute',
  attrs: (args) => ({ dims: args.dims }),
  infer(attrs, [input], ctx) {
    const dims = attrs.dims;
    const rank = input!.length + 1;
    const sorted = [...dims].sort((a, b) => a - b);
    if (dims.length !== rank || dims[0] !== 0 || sorted.some((d, i) => d !== i)) {
      ctx.error(
        'NET2016',
        `permute (${dims.join(', ')}) is not a permutation of the ${rank} dimensions of [N, ${input!.join(', ')}] that keeps the batch first`,
        {
          at: 'dims',
          help: `write ${rank} axes, 0 first, each of 0..${rank - 1} once${rank === 4 ? ': (0, 2, 3, 1) for channels-last, (0, 3, 1, 2) back' : ''}`,
        },
      );
      return null;
    }
    const axes = dims.slice(1).map((d) => d - 1);
    const out = axes.map((a) => input![a]!);
    // A feature map's channels moved last make a channels-last map; a channels-last map's moved first, a feature map again.
    return rank === 4 && axes[2] === (isChannelsLast(input!) ? 2 : 0) ? markChannelsLast(out) : out;
  },
  pytorch: { module: (node) => [`torchvision.ops.misc.Permute([${node.attrs.dims.join(', ')}])`] },
  lower(ctx, node, [x]) {
    // Output tfjs axis j holds IR output axis k, which is IR input axis axes[k], at tfjs position tfAxis(rank, axes[k]).
    const axes = node.attrs.dims.slice(1).map((d) => d - 1);
    const rank = axes.length;
    const dims = Array.from({ length: rank }, (_, j) => {
      const k = rank === 3 ? [1, 2, 0][j]! : j;
      return tfAxis(rank, axes[k]!);
    });
    if (dims.every((d, j) => d === j + 1)) return x!;
    return ctx.layers.layers.permute({ dims, name: ctx.layerName(node) }).apply(x!) as SymbolicTensor;
  },
});
