import type { WeightSpec } from '../ir/types.js';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { slot, type Template } from '../export/template.js';
import { defineOp } from './op.js';
import { refuseSequence } from './layout.js';

export const batchnorm = defineOp({
  name: 'bn',
  keeps: { input: true },
  recompute: true,
  aliases: ['batchnorm'],
  summary: 'batch normalisation (nn.BatchNorm2d on feature maps, nn.BatchNorm1d on vectors), affine',
  nameBase: 'bn',
  numbered: true,
  arity: 1,
  params: [
    { name: 'eps', type: 'float', default: 1e-5, doc: 'added to the variance' },
    { name: 'momentum', type: 'float', default: 0.1, doc: "running-statistics update rate (PyTorch's meaning)" },
  ],
  attrs: (args) => ({ eps: args.eps, momentum: args.momentum }),
  torchType: (_attrs, [input]) => (input && input.length === 1 ? 'BatchNorm1d' : 'BatchNorm2d'),
  infer: (_attrs, [input], ctx) => (refuseSequence('bn', input!, ctx, 'normalise a sequence with `layernorm`') ? input! : null),
  weights(_attrs, [input]): WeightSpec[] {
    const c = input![0]!;
    return [
      { name: 'weight', shape: [c], trainable: true, buffer: false, init: { kind: 'ones' } },
      { name: 'bias', shape: [c], trainable: true, buffer: false, init: { kind: 'zeros' } },
      { name: 'running_mean', shape: [c], trainable: false, buffer: true, init: { kind: 'zeros' } },
      { name: 'running_var', shape: [c], trainable: false, buffer: true, init: { kind: 'ones' } },
    ];
  },
  pytorch: {
    init: { weight: 'ones', bias: 'zeros', running_mean: 'zeros', running_var: 'ones' },
    module(node, [input]) {
      const t: Template = [`nn.BatchNorm${input!.length === 1 ? '1d' : '2d'}(`, slot(input![0]!, 'num_features')];
      const { eps, momentum } = node.attrs;
      if (eps !== 1e-5) t.push(', eps=', slot(eps, 'eps'));
      if (momentum !== 0.1) t.push(', momentum=', slot(momentum, 'momentum'));
      t.push(')');
      return t;
    },
  },
  lower(ctx, node, [x]) {
    // PyTorch's momentum (0.1) and eps (1e-5), and its unbiased running variance: see src/lower/batchnorm.ts.
    const layer = new ctx.custom.TorchBatchNorm({
      torchMomentum: node.attrs.momentum,
      epsilon: node.attrs.eps,
      name: ctx.layerName(node),
    });
    ctx.own(node, layer);
    return layer.apply(x!) as SymbolicTensor;
  },
});
