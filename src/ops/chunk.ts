import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { lazyLayer } from './lazy-layer.js';
import type { OpDef } from './op.js';

/**
 * `chunk n i`: the i-th of n equal channel slices, PyTorch's `x.chunk(n, dim=1)[i]` (ShuffleNetV2's split).
 * A function call in PyTorch, so it has no module and no summary row.
 */
export const chunk: OpDef = {
  name: 'chunk',
  aliases: ['split'],
  summary: "the i-th of n equal channel slices: x.chunk(n, dim=1)[i] (a function: no module, no summary row)",
  nameBase: 'chunk',
  arity: 1,
  params: [
    { name: 'n', type: 'int', positional: true, aliases: ['chunks'], doc: 'how many equal slices' },
    { name: 'index', type: 'int', positional: true, default: 0, doc: 'which slice, from 0' },
  ],
  torchType: () => null,
  attrs: (args) => ({ n: args['n'] as number, index: args['index'] as number }),
  infer(attrs, [input], ctx) {
    const [n, index] = [attrs['n'] as number, attrs['index'] as number];
    if (input![0]! % n !== 0) {
      ctx.error('NET2013', `chunk ${n} does not divide the ${input![0]} channels evenly`, { at: 'n', help: `the channels must be a multiple of ${n}` });
      return null;
    }
    if (index >= n) {
      ctx.error('NET2013', `chunk index ${index} is out of range: there are ${n} slices, 0 to ${n - 1}`, { at: 'index' });
      return null;
    }
    return [input![0]! / n, ...input!.slice(1)];
  },
  pytorch: { expr: ([x], _inputs, attrs) => `${x}.chunk(${attrs['n']}, dim=1)[${attrs['index']}]` },
  lower(ctx, node, [x]) {
    const size = node.shape![0]!;
    const Slice = channelSlice(ctx);
    return new Slice({ begin: size * (node.attrs['index'] as number), size, name: ctx.layerName(node) }).apply(x!) as SymbolicTensor;
  },
};

type SliceArgs = { begin: number; size: number; name?: string };

/** Channels-last slice: `size` channels from `begin`. */
const channelSlice = lazyLayer<SliceArgs>((ctx) => {
  const tf = ctx.tf;
  return class NetcChannelSlice extends ctx.layers.layers.Layer {
    static className = 'NetcChannelSlice';
    private readonly begin: number;
    private readonly size: number;
    constructor(args: SliceArgs) {
      super(args);
      this.begin = args.begin;
      this.size = args.size;
    }
    override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
      const shape = (Array.isArray(s[0]) ? s[0] : s) as tfl.Shape;
      return [...shape.slice(0, -1), this.size];
    }
    override call(inputs: tfc.Tensor | tfc.Tensor[]): tfc.Tensor {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const last = x.rank - 1;
      return tf.slice(x, x.shape.map((_, i) => (i === last ? this.begin : 0)), x.shape.map((d, i) => (i === last ? this.size : -1)));
    }
    override getConfig() {
      return { ...super.getConfig(), begin: this.begin, size: this.size };
    }
  };
});
