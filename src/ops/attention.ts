import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { slot } from '../export/template.js';
import { defineOp } from './op.js';
import { requireSequence } from './tokens.js';

/**
 * Multi-head self-attention over a sequence [L, D]: nn.MultiheadAttention(D, heads, batch_first=True) called
 * as attn(x, x, x, need_weights=False)[0] (ViT's encoder blocks), with its parameters and their initialisation:
 * in_proj_weight [3D, D] (xavier uniform), in_proj_bias [3D] (zeros), out_proj.weight [D, D], out_proj.bias
 * [D] (zeros). torchsummary counts none of them (the module has no `weight`); netc counts all.
 * MACs: the projections (4 L D^2) and the two attention products (2 L^2 D).
 */
export const attention = defineOp({
  name: 'attention',
  aliases: ['multihead_attention', 'mha'],
  summary: 'multi-head self-attention over [L, D] (nn.MultiheadAttention, batch_first): in_proj, softmax(q k^T / sqrt(D/heads)) v, out_proj',
  nameBase: 'self_attention',
  arity: 1,
  // The projected q, k, v, the attention weights (heads * L of them per token) and the heads' output.
  keeps: { input: true, extra: 5 },
  params: [{ name: 'heads', type: 'int', positional: true, aliases: ['num_heads'], doc: 'number of heads; must divide D' }],
  torchType: () => 'MultiheadAttention',
  attrs: (args) => ({ heads: args.heads }),
  infer(attrs, [input], ctx) {
    if (!requireSequence('attention', input!, ctx)) return null;
    const heads = attrs.heads;
    if (heads < 1 || input[1] % heads !== 0) {
      ctx.error('NET2015', `${heads} heads do not divide the embedding of ${input[1]}`, {
        at: 'heads',
        help: `use a number of heads that divides ${input[1]}`,
      });
      return null;
    }
    return input;
  },
  weights(_attrs, [input]) {
    const d = input![1]!;
    return [
      { name: 'in_proj_weight', shape: [3 * d, d], trainable: true, buffer: false, init: { kind: 'xavierUniform', fanIn: d, fanOut: 3 * d } },
      { name: 'in_proj_bias', shape: [3 * d], trainable: true, buffer: false, init: { kind: 'zeros' } },
      { name: 'out_proj.weight', shape: [d, d], trainable: true, buffer: false, init: { kind: 'uniformFanIn', fanIn: d } },
      { name: 'out_proj.bias', shape: [d], trainable: true, buffer: false, init: { kind: 'zeros' } },
    ];
  },
  macs: (_attrs, [input]) => 4 * input![0]! * input![1]! * input![1]! + 2 * input![0]! * input![0]! * input![1]!,
  pytorch: {
    module: (node, [input]) => ['nn.MultiheadAttention(', slot(input![1]!, 'hidden_dim'), ', ', slot(node.attrs.heads, 'num_heads'), ', batch_first=True)'],
    expr: ([x], _inputs, _attrs, self) => `${self}(${x}, ${x}, ${x}, need_weights=False)[0]`,
    // nn.MultiheadAttention._reset_parameters: xavier_uniform_ in_proj, zero biases; out_proj keeps nn.Linear's.
    init: { in_proj_weight: 'xavierUniform', in_proj_bias: 'zeros', 'out_proj.weight': 'uniformFanIn', 'out_proj.bias': 'zeros' },
  },
  lower(ctx, node, [x]) {
    const layer = new ctx.custom.SelfAttention({ heads: node.attrs.heads, name: ctx.layerName(node) });
    ctx.own(node, layer);
    return layer.apply(x!) as SymbolicTensor;
  },
});
