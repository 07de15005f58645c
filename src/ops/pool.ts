import { pool } from '../lower/helpers.js';
import { isDefaultPair, pairParts, type Template } from '../export/template.js';
import type { OpDef, ParamSpec } from './op.js';
import { pair, pairAttr, requireFeatureMap, windowFields, windowOutput } from './window.js';

function poolParams(extra: ParamSpec[]): ParamSpec[] {
  return [
    { name: 'k', type: 'int|pair', positional: true, aliases: ['kernel'], doc: 'window size' },
    { name: 'stride', type: 'int|pair', default: (args) => args['k']!, doc: 'stride (default: the window size)' },
    { name: 'pad', type: 'int|pair', default: 0, aliases: ['padding'], doc: 'padding on each side' },
    { name: 'ceil', type: 'bool', default: false, aliases: ['ceil_mode'], doc: 'round the output size up (PyTorch ceil_mode)' },
    ...extra,
  ];
}

function makePool(name: 'maxpool' | 'avgpool'): OpDef {
  const isMax = name === 'maxpool';
  return {
    name,
    aliases: isMax ? ['max_pool'] : ['avg_pool'],
    summary: isMax
      ? 'max pooling (nn.MaxPool2d); padding is -inf, as in PyTorch'
      : 'average pooling (nn.AvgPool2d); zero padding counted in the average, as in PyTorch',
    nameBase: name,
    arity: 1,
    params: poolParams(isMax ? [{ name: 'dilation', type: 'int|pair', default: 1, doc: 'spacing between window taps' }] : []),
    torchType: () => (isMax ? 'MaxPool2d' : 'AvgPool2d'),
    keeps: isMax ? { input: true, output: true } : { input: true },
    ...(isMax ? { kinks: 'window-max' as const } : {}),
    attrs: (args) => ({
      kernel: pair(args['k'] as number, 1),
      stride: pair(args['stride'] as number, 1),
      padding: pair(args['pad'] as number, 0),
      ...(isMax ? { dilation: pair(args['dilation'] as number, 1) } : {}),
      ceil: args['ceil'] as boolean,
    }),
    infer(attrs, [input], ctx) {
      if (!requireFeatureMap(name, input!, ctx)) return null;
      const kernel = pairAttr(attrs, 'kernel');
      const padding = pairAttr(attrs, 'padding');
      for (const axis of [0, 1]) {
        const [k, p] = [kernel[axis]!, padding[axis]!];
        if (p > Math.floor(k / 2)) {
          ctx.error('NET2011', `padding ${p} is more than half the window ${k}${kernel[0] === kernel[1] && padding[0] === padding[1] ? '' : ` along ${axis ? 'width' : 'height'}`}`, {
            at: 'pad',
            help: `PyTorch requires pad <= kernel/2; use pad=${Math.floor(k / 2)} or less`,
          });
          return null;
        }
      }
      const size = windowOutput(input, attrs, ctx, attrs['ceil'] as boolean);
      return size && [input[0], size[0], size[1]];
    },
    window: (attrs) => windowFields(attrs),
    lower: pool(isMax ? 'max' : 'avg'),
    pytorch: {
      module(node) {
        const a = node.attrs;
        const t: Template = [`nn.${isMax ? 'MaxPool2d' : 'AvgPool2d'}(kernel_size=`, ...pairParts(a['kernel'], 'kernel_size', 1), ', stride=', ...pairParts(a['stride'], 'stride', 1)];
        if (!isDefaultPair(a['padding'], 0)) t.push(', padding=', ...pairParts(a['padding'], 'padding', 0));
        if (isMax && !isDefaultPair(a['dilation'], 1)) t.push(', dilation=', ...pairParts(a['dilation'], 'dilation', 1));
        if (a['ceil']) t.push(', ceil_mode=True');
        t.push(')');
        return t;
      },
    },
  };
}

export const maxpool = makePool('maxpool');
export const avgpool = makePool('avgpool');
