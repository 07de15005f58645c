import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { slot, type Template } from '../export/template.js';
import type { Shape } from '../ir/types.js';
import { product } from '../ir/size.js';
import { defineOp } from './op.js';
import { isChannelsLast, markChannelsLast } from './layout.js';

/** In-features: the last dim when the linear maps every position, else the (flattened) input's size. */
function inFeaturesOf(input: Shape, output: Shape): number {
  return output.length > 1 ? input[input.length - 1]! : input[0]!;
}

export const linear = defineOp({
  name: 'linear',
  keeps: { input: true },
  aliases: ['fc', 'dense'],
  summary: 'fully connected layer (nn.Linear): on a vector, or on every token of [L, D] / position of a channels-last map; in-features come from the input',
  nameBase: 'fc',
  arity: 1,
  params: [
    { name: 'out', type: 'int', positional: true, aliases: ['features'], doc: 'output features' },
    { name: 'bias', type: 'bool', default: true, doc: 'learn an additive bias' },
  ],
  torchType: () => 'Linear',
  fullyConnected: true,
  attrs: (args) => ({ out: args.out, bias: args.bias }),
  infer(attrs, [input], ctx) {
    const { out } = attrs;
    // Per position over the last dim: a sequence [L, D] (per token) or a channels-last map [H, W, C] (ConvNeXt).
    if (input!.length === 2 || isChannelsLast(input!)) {
      const shape = [...input!.slice(0, -1), out];
      return isChannelsLast(input!) ? markChannelsLast(shape) : shape;
    }
    const flatOrPooled = input!.length === 1 || (input!.length === 3 && input![1] === 1 && input![2] === 1);
    if (!flatOrPooled) {
      const features = product(input!);
      ctx.error('NET2006', `linear needs a flat input, got a [${input!.join(', ')}] feature map`, {
        help: `insert \`flatten\` before it (it would see ${input!.join('*')} = ${features} features) or \`gap\` to pool to [${input![0]}]; for a linear at every position over the channels, \`permute (0, 2, 3, 1)\` first`,
      });
      return null;
    }
    return [out];
  },
  weights(attrs, [input], output) {
    const inFeatures = inFeaturesOf(input!, output);
    const { out } = attrs;
    const init = { kind: 'uniformFanIn' as const, fanIn: inFeatures };
    const weights = [{ name: 'weight', shape: [out, inFeatures], trainable: true, buffer: false, init }];
    if (attrs.bias) weights.push({ name: 'bias', shape: [out], trainable: true, buffer: false, init });
    return weights;
  },
  // Every position (token) is one product of in x out.
  macs: (attrs, [input], output) => (product(output) / attrs.out) * inFeaturesOf(input!, output) * attrs.out,
  pytorch: {
    init: { weight: 'uniformFanIn', bias: 'uniformFanIn' },
    module(node, [input]) {
      const t: Template = ['nn.Linear(', slot(inFeaturesOf(input!, node.shape!), 'in_features'), ', ', slot(node.attrs.out, 'out_features')];
      if (node.attrs.bias === false) t.push(', bias=False');
      t.push(')');
      return t;
    },
  },
  lower(ctx, node, [x]) {
    const inShape = ctx.inputShape(node);
    const rank = node.shape!.length;
    const flat = rank === 1 && inShape.length > 1 ? (ctx.flattenCHW(node, x, inShape) as SymbolicTensor) : x!;
    // Zeros: lowerGraph sets the weights with PyTorch's init right after (tfjs's own init was wasted work).
    const layer = ctx.layers.layers.dense({
      units: node.attrs.out,
      useBias: node.attrs.bias,
      name: ctx.layerName(node),
      kernelInitializer: 'zeros',
      biasInitializer: 'zeros',
    });
    ctx.own(node, layer);
    if (rank !== 3) return layer.apply(flat) as SymbolicTensor; // tfjs's dense maps the last axis of [N, F] and [N, L, D]
    // A channels-last map [H, W, C] is the tfjs tensor [N, W, C, H]: bring C last, map it, put it back.
    const P = ctx.layers.layers.permute;
    const last = P({ dims: [1, 3, 2], name: ctx.layerName(node, 'in') }).apply(x!) as SymbolicTensor;
    return P({ dims: [1, 3, 2], name: ctx.layerName(node, 'out') }).apply(layer.apply(last) as SymbolicTensor) as SymbolicTensor;
  },
});
