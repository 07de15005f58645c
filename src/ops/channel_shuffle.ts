import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { defineOp } from './op.js';
import { requireFeatureMap } from './window.js';

/**
 * `channel_shuffle g`: torchvision's channel_shuffle(x, g) (ShuffleNet): channels viewed as [g, C/g],
 * transposed to [C/g, g] and flattened back, so each group's channels interleave. A function in
 * torchvision: no module, no summary row, no weights.
 */
export const channelShuffle = defineOp({
  name: 'channel_shuffle',
  aliases: ['shuffle'],
  summary: 'interleave g channel groups: view [g, C/g], transpose, flatten (torchvision channel_shuffle; no summary row)',
  nameBase: 'channel_shuffle',
  arity: 1,
  params: [{ name: 'groups', type: 'int', positional: true, doc: 'number of channel groups' }],
  torchType: () => null,
  attrs: (args) => ({ groups: args.groups }),
  infer(attrs, [input], ctx) {
    if (!requireFeatureMap('channel_shuffle', input!, ctx)) return null;
    const g = attrs.groups;
    if (input[0] % g !== 0) {
      ctx.error('NET2013', `channel_shuffle ${g} does not divide the ${input[0]} channels evenly`, {
        at: 'groups',
        help: `the channels must be a multiple of ${g}`,
      });
      return null;
    }
    return input;
  },
  pytorch: { expr: ([x], _inputs, attrs) => `${x}.unflatten(1, (${attrs.groups}, -1)).transpose(1, 2).flatten(1, 2)` },
  lower(ctx, node, [x]) {
    // Channels-last [H, W, C] -> [H, W, g, C/g] -> [H, W, C/g, g] -> [H, W, C]: the same interleaving.
    const [c, h, w] = node.shape as [number, number, number];
    const g = node.attrs.groups;
    const L = ctx.layers.layers;
    const split = L.reshape({ targetShape: [h, w, g, c / g], name: ctx.layerName(node, 'split') }).apply(x!) as SymbolicTensor;
    const swapped = L.permute({ dims: [1, 2, 4, 3], name: ctx.layerName(node, 'swap') }).apply(split) as SymbolicTensor;
    return L.reshape({ targetShape: [h, w, c], name: ctx.layerName(node) }).apply(swapped) as SymbolicTensor;
  },
});
