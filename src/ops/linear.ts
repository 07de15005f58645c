import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { slot, type Template } from '../export/template.js';
import { product } from '../ir/size.js';
import { defineOp } from './op.js';

export const linear = defineOp({
  name: 'linear',
  keeps: { input: true },
  aliases: ['fc', 'dense'],
  summary: 'fully connected layer (nn.Linear); in-features come from the input',
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
    const flatOrPooled = input!.length === 1 || (input!.length === 3 && input![1] === 1 && input![2] === 1);
    if (!flatOrPooled) {
      const features = product(input!);
      ctx.error('NET2006', `linear needs a flat input, got a [${input!.join(', ')}] feature map`, {
        help: `insert \`flatten\` before it (it would see ${input!.join('*')} = ${features} features) or \`gap\` to pool to [${input![0]}]`,
      });
      return null;
    }
    return [attrs.out];
  },
  weights(attrs, [input]) {
    const inFeatures = input![0]!;
    const { out } = attrs;
    const init = { kind: 'uniformFanIn' as const, fanIn: inFeatures };
    const weights = [{ name: 'weight', shape: [out, inFeatures], trainable: true, buffer: false, init }];
    if (attrs.bias) weights.push({ name: 'bias', shape: [out], trainable: true, buffer: false, init });
    return weights;
  },
  macs: (attrs, [input]) => input![0]! * attrs.out,
  pytorch: {
    init: { weight: 'uniformFanIn', bias: 'uniformFanIn' },
    module(node, [input]) {
      const t: Template = ['nn.Linear(', slot(input![0]!, 'in_features'), ', ', slot(node.attrs.out, 'out_features')];
      if (node.attrs.bias === false) t.push(', bias=False');
      t.push(')');
      return t;
    },
  },
  lower(ctx, node, [x]) {
    const inShape = ctx.inputShape(node);
    const flat = inShape.length > 1 ? (ctx.flattenCHW(node, x, inShape) as SymbolicTensor) : x!;
    // Zeros: lowerGraph sets the weights with PyTorch's init right after (tfjs's own init was wasted work).
    const layer = ctx.layers.layers.dense({
      units: node.attrs.out, useBias: node.attrs.bias, name: ctx.layerName(node), kernelInitializer: 'zeros', biasInitializer: 'zeros',
    });
    ctx.own(node, layer);
    return layer.apply(flat) as SymbolicTensor;
  },
});
