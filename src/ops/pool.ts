import { pool } from '../lower/helpers.js';
import { isDefaultPair, pairParts, type Template } from '../export/template.js';
import { defineOp, type ArgsOf, type ParamSpec } from './op.js';
import { pair, requireFeatureMap, windowFields, windowOutput } from './window.js';

const POOL_PARAMS = [
  { name: 'k', type: 'int|pair', positional: true, aliases: ['kernel'], doc: 'window size' },
  { name: 'stride', type: 'int|pair', default: (args) => args['k']!, doc: 'stride (default: the window size)' },
  { name: 'pad', type: 'int|pair', default: 0, aliases: ['padding'], doc: 'padding on each side' },
  { name: 'ceil', type: 'bool', default: false, aliases: ['ceil_mode'], doc: 'round the output size up (PyTorch ceil_mode)' },
  { name: 'dilation', type: 'int|pair', default: 1, doc: 'spacing between window taps' },
] as const satisfies readonly ParamSpec[];

type Pair = [number, number];
/** avgpool's attributes have no dilation (nor has nn.AvgPool2d). */
type PoolAttrs = { kernel: Pair; stride: Pair; padding: Pair; ceil: boolean } | { kernel: Pair; stride: Pair; padding: Pair; dilation: Pair; ceil: boolean };

function makePool<const N extends 'maxpool' | 'avgpool'>(name: N) {
  const isMax = name === 'maxpool';
  const lowerPool = pool(isMax ? 'max' : 'avg');
  return defineOp({
    name,
    aliases: isMax ? ['max_pool'] : ['avg_pool'],
    summary: isMax
      ? 'max pooling (nn.MaxPool2d); padding is -inf, as in PyTorch'
      : 'average pooling (nn.AvgPool2d); zero padding counted in the average, as in PyTorch',
    nameBase: name,
    arity: 1,
    params: isMax ? POOL_PARAMS : POOL_PARAMS.slice(0, 4),
    torchType: () => (isMax ? 'MaxPool2d' : 'AvgPool2d'),
    keeps: isMax ? { input: true, output: true } : { input: true },
    ...(isMax ? { kinks: 'window-max' as const } : {}),
    attrs: (args: ArgsOf<typeof POOL_PARAMS>): PoolAttrs => {
      const [kernel, stride, padding] = [pair(args.k, 1), pair(args.stride, 1), pair(args.pad, 0)];
      return isMax ? { kernel, stride, padding, dilation: pair(args.dilation, 1), ceil: args.ceil } : { kernel, stride, padding, ceil: args.ceil };
    },
    infer(attrs, [input], ctx) {
      if (!requireFeatureMap(name, input!, ctx)) return null;
      const { kernel, padding } = attrs;
      for (const axis of [0, 1]) {
        const [k, p] = [kernel[axis]!, padding[axis]!];
        if (p > Math.floor(k / 2)) {
          ctx.error(
            'NET2011',
            `padding ${p} is more than half the window ${k}${kernel[0] === kernel[1] && padding[0] === padding[1] ? '' : ` along ${axis ? 'width' : 'height'}`}`,
            {
              at: 'pad',
              help: `PyTorch requires pad <= kernel/2; use pad=${Math.floor(k / 2)} or less`,
            },
          );
          return null;
        }
      }
      const size = windowOutput(input, attrs, ctx, attrs.ceil);
      return size && [input[0], size[0], size[1]];
    },
    window: (attrs) => windowFields(attrs),
    // CAM's pool: an average pool whose window is the whole map, without padding (seed 003's AvgPool2d(7) on 7x7).
    globalPool: isMax
      ? undefined
      : {
          test: (a, input) => input.length === 3 && a.kernel[0] === input[1] && a.kernel[1] === input[2] && a.padding[0] === 0 && a.padding[1] === 0,
          condition: 'an `avgpool` counts as global only when its window equals the whole map and it has no padding',
        },
    lower: (ctx, node, inputs) => lowerPool(ctx, node, inputs),
    pytorch: {
      module(node) {
        const a = node.attrs;
        const t: Template = [
          `nn.${isMax ? 'MaxPool2d' : 'AvgPool2d'}(kernel_size=`,
          ...pairParts(a.kernel, 'kernel_size', 1),
          ', stride=',
          ...pairParts(a.stride, 'stride', 1),
        ];
        if (!isDefaultPair(a.padding, 0)) t.push(', padding=', ...pairParts(a.padding, 'padding', 0));
        if ('dilation' in a && !isDefaultPair(a.dilation, 1)) t.push(', dilation=', ...pairParts(a.dilation, 'dilation', 1));
        if (a.ceil) t.push(', ceil_mode=True');
        t.push(')');
        return t;
      },
    },
  });
}

export const maxpool = makePool('maxpool');
export const avgpool = makePool('avgpool');
