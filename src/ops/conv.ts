import { zeroPad } from '../lower/helpers.js';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { isDefaultPair, pairParts, slot, type Template } from '../export/template.js';
import { defineOp } from './op.js';
import { pair, requireFeatureMap, windowFields, windowOutput } from './window.js';

export const conv = defineOp({
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
  keeps: { input: true },
  attrs: (args) => ({
    out: args.out,
    kernel: pair(args.k, 1),
    stride: pair(args.stride, 1),
    padding: pair(args.pad, 0),
    dilation: pair(args.dilation, 1),
    groups: args.groups,
    bias: args.bias,
  }),
  infer(attrs, [input], ctx) {
    if (!requireFeatureMap('conv', input!, ctx)) return null;
    const { groups, out } = attrs;
    if (input[0] % groups !== 0 || out % groups !== 0) {
      ctx.error('NET2009', `groups=${groups} must divide both in-channels ${input[0]} and out-channels ${out}`, { at: 'groups' });
      return null;
    }
    const size = windowOutput(input, attrs, ctx);
    return size && [out, size[0], size[1]];
  },
  weights(attrs, [input], output) {
    const [kh, kw] = attrs.kernel;
    const inPerGroup = input![0]! / attrs.groups;
    const out = output[0]!;
    const fanOut = out * kh * kw;
    const weights = [
      {
        name: 'weight',
        shape: [out, inPerGroup, kh, kw],
        trainable: true,
        buffer: false,
        init: { kind: 'kaimingNormalFanOut' as const, fanOut },
      },
    ];
    if (attrs.bias) {
      weights.push({ name: 'bias', shape: [out], trainable: true, buffer: false, init: { kind: 'uniformFanIn', fanIn: inPerGroup * kh * kw } as never });
    }
    return weights;
  },
  macs(attrs, [input], output) {
    const [kh, kw] = attrs.kernel;
    const elements = output[0]! * output[1]! * output[2]!;
    return elements * (input![0]! / attrs.groups) * kh * kw;
  },
  window: (attrs) => windowFields(attrs),
  pytorch: {
    init: { weight: 'uniformFanIn', bias: 'uniformFanIn' },
    module(node, [input]) {
      const a = node.attrs;
      const t: Template = [
        'nn.Conv2d(',
        slot(input![0]!, 'in_channels'),
        ', ',
        slot(a.out, 'out_channels'),
        ', kernel_size=',
        ...pairParts(a.kernel, 'kernel_size', 1),
      ];
      if (!isDefaultPair(a.stride, 1)) t.push(', stride=', ...pairParts(a.stride, 'stride', 1));
      if (!isDefaultPair(a.padding, 0)) t.push(', padding=', ...pairParts(a.padding, 'padding', 0));
      if (!isDefaultPair(a.dilation, 1)) t.push(', dilation=', ...pairParts(a.dilation, 'dilation', 1));
      if ((a.groups ?? 1) !== 1) t.push(', groups=', slot(a.groups, 'groups'));
      if (a.bias === false) t.push(', bias=False');
      t.push(')');
      return t;
    },
  },
  lower(ctx, node, [x]) {
    const { out, groups, kernel, stride: strides, dilation, bias: useBias, padding: pad } = node.attrs;
    const dilated = dilation[0] > 1 || dilation[1] > 1;
    if (groups > 1 || dilated) {
      // tfjs trains neither grouped nor dilated convolutions (its gradients assert dilation 1): netc's layer.
      const layer = new ctx.custom.GroupedConv2D({ filters: out, kernelSize: kernel, strides, dilation, groups, useBias, name: ctx.layerName(node) });
      ctx.own(node, layer);
      return layer.apply(zeroPad(ctx, node, x!, pad)) as SymbolicTensor;
    }
    // tfjs 'same' equals PyTorch's symmetric padding only at stride 1 with p = (k-1)/2; it saves a
    // pad and its gradient's slice per conv. Otherwise pad explicitly and convolve 'valid'.
    const same = strides[0] === 1 && strides[1] === 1 && pad[0] * 2 === kernel[0] - 1 && pad[1] * 2 === kernel[1] - 1;
    const y = same ? x! : zeroPad(ctx, node, x!, pad);
    const padding = same ? ('same' as const) : ('valid' as const);
    // Zeros: lowerGraph sets every owned layer's weights with PyTorch's init right after; tfjs's own
    // (truncated-normal) init of the same weights was thrown away and took 20 s for VGG-16.
    const layer = ctx.layers.layers.conv2d({
      filters: out,
      kernelSize: kernel,
      strides,
      padding,
      useBias,
      name: ctx.layerName(node),
      kernelInitializer: 'zeros',
      biasInitializer: 'zeros',
    });
    ctx.own(node, layer);
    return layer.apply(y) as SymbolicTensor;
  },
});
