import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { slot } from '../export/template.js';
import { defineOp } from './op.js';
import { requireSequence } from './tokens.js';

/**
 * ViT's learned position embedding: x + E, E an [1, L, D] parameter (`encoder.pos_embedding`), normal with
 * std 0.02 at first. L is the length of the sequence it sees, so it follows the input size, as torchvision's
 * constructor computes it from image_size ((224/16)^2 + 1 = 197). torchsummary misses it; netc gives it a
 * row (PositionEmbedding).
 */
export const posEmbedding = defineOp({
  name: 'pos_embedding',
  aliases: ['position_embedding'],
  summary: "x + E, a learned [1, L, D] position embedding (ViT's pos_embedding parameter; L follows the input)",
  nameBase: 'pos_embedding',
  arity: 1,
  params: [{ name: 'std', type: 'float', default: 0.02, doc: 'standard deviation of the initial normal values' }],
  torchType: () => 'PositionEmbedding',
  attrs: (args) => ({ std: args.std }),
  infer(_attrs, [input], ctx) {
    if (!requireSequence('pos_embedding', input!, ctx)) return null;
    return input;
  },
  weights: (attrs, [input]) => [{ name: '', shape: [1, ...input!], trainable: true, buffer: false, init: { kind: 'normal', std: attrs.std } }],
  pytorch: {
    module: (node, [input]) => [
      'nn.Parameter(torch.empty(1, ',
      slot(input![0]!, 'seq_length'),
      ', ',
      slot(input![1]!, 'hidden_dim'),
      ').normal_(std=',
      slot(node.attrs.std, 'std'),
      '))',
    ],
    expr: ([x], _inputs, _attrs, self) => `${x} + ${self}`,
    init: { '': 'normal' },
  },
  lower(ctx, node, [x]) {
    const layer = new ctx.custom.PositionEmbedding({ paramShape: [1, ...node.shape!], name: ctx.layerName(node) });
    ctx.own(node, layer);
    return layer.apply(x!) as SymbolicTensor;
  },
});
