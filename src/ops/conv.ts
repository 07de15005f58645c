import type { OpDef } from './op.js';
import { pair, pairAttr, requireFeatureMap, windowFields, windowOutput } from './window.js';

export const conv: OpDef = {
  name: 'conv',
  aliases: ['conv2d'],
  summary: '2-D convolution (nn.Conv2d); in-channels come from the input',
  nameBase: 'conv',
  numbered: true,
  arity: 1,
  params: [
    { name: 'out', type: 'int', positional: true, aliases: ['channels'], doc: 'output channels' },
    { name: 'k', type: 'int|pair', positional: true, aliases: ['kernel'], doc: 'kernel size, or (kh, kw)' },
    { name: 'stride', type: 'int|pair', default: 1, doc: 'stride' },
    { name: 'pad', type: 'int|pair', default: 0, aliases: ['padding'], doc: 'zero padding on each side' },
    { name: 'dilation', type: 'int|pair', default: 1, doc: 'spacing between kernel taps' },
    { name: 'groups', type: 'int', default: 1, doc: 'grouped convolution (in and out channels must divide by it)' },
    { name: 'bias', type: 'bool', default: true, doc: 'learn an additive bias (PyTorch default: true)' },
  ],
  torchType: () => 'Conv2d',
  attrs: (args) => ({
    out: args['out'] as number,
    kernel: pair(args['k'] as number, 1),
    stride: pair(args['stride'] as number, 1),
    padding: pair(args['pad'] as number, 0),
    dilation: pair(args['dilation'] as number, 1),
    groups: args['groups'] as number,
    bias: args['bias'] as boolean,
  }),
  infer(attrs, [input], ctx) {
    if (!requireFeatureMap('conv', input!, ctx)) return null;
    const groups = attrs['groups'] as number;
    const out = attrs['out'] as number;
    if (input[0] % groups !== 0 || out % groups !== 0) {
      ctx.error('NET2009', `groups=${groups} must divide both in-channels ${input[0]} and out-channels ${out}`, { at: 'groups' });
      return null;
    }
    const size = windowOutput(input, attrs, ctx);
    return size && [out, size[0], size[1]];
  },
  weights(attrs, [input], output) {
    const [kh, kw] = pairAttr(attrs, 'kernel');
    const inPerGroup = input![0]! / (attrs['groups'] as number);
    const out = output[0]!;
    const fanOut = out * kh * kw;
    const weights = [{
      name: 'weight', shape: [out, inPerGroup, kh, kw], trainable: true, buffer: false,
      init: { kind: 'kaimingNormalFanOut' as const, fanOut },
    }];
    if (attrs['bias']) {
      weights.push({ name: 'bias', shape: [out], trainable: true, buffer: false, init: { kind: 'uniformFanIn', fanIn: inPerGroup * kh * kw } as never });
    }
    return weights;
  },
  macs(attrs, [input], output) {
    const [kh, kw] = pairAttr(attrs, 'kernel');
    const elements = output[0]! * output[1]! * output[2]!;
    return elements * (input![0]! / (attrs['groups'] as number)) * kh * kw;
  },
  window: (attrs) => windowFields(attrs),
};
