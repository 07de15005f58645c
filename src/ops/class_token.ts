import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { slot } from '../export/template.js';
import { defineOp } from './op.js';
import { requireSequence } from './tokens.js';

/**
 * ViT's class token: a learned [1, 1, D] token put before the sequence, [L, D] -> [L + 1, D]. In torchvision
 * it is an nn.Parameter of the model (`class_token`), initialised to zeros; torchsummary misses it, netc
 * gives it a row (ClassToken) so its totals count every parameter.
 */
export const classToken = defineOp({
  name: 'class_token',
  aliases: ['cls_token'],
  summary: "a learned token put first: [L, D] -> [L + 1, D] (ViT's class_token parameter, zeros at first)",
  nameBase: 'class_token',
  arity: 1,
  params: [],
  torchType: () => 'ClassToken',
  infer(_attrs, [input], ctx) {
    if (!requireSequence('class_token', input!, ctx)) return null;
    return [input[0] + 1, input[1]];
  },
  weights: (_attrs, [input]) => [{ name: '', shape: [1, 1, input![1]!], trainable: true, buffer: false, init: { kind: 'zeros' } }],
  pytorch: {
    module: (_node, [input]) => ['nn.Parameter(torch.zeros(1, 1, ', slot(input![1]!, 'hidden_dim'), '))'],
    expr: ([x], _inputs, _attrs, self) => `torch.cat([${self}.expand(${x}.shape[0], -1, -1), ${x}], dim=1)`,
    init: { '': 'zeros' },
  },
  lower(ctx, node, [x]) {
    const layer = new ctx.custom.ClassToken({ paramShape: [1, 1, node.shape![1]!], name: ctx.layerName(node) });
    ctx.own(node, layer);
    return layer.apply(x!) as SymbolicTensor;
  },
});
