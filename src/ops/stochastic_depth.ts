import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import type * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { slot } from '../export/template.js';
import { lazyLayer } from './lazy-layer.js';
import type { OpDef } from './op.js';

const MODES = ['row', 'batch'];

/**
 * torchvision.ops.StochasticDepth (Huang et al., 2016; EfficientNet's residual branches): while training,
 * zero the whole input per sample ("row") or for the whole batch ("batch") with probability p and scale
 * the rest by 1 / (1 - p); the identity in eval. A module in torchvision, so it has a summary row.
 */
export const stochasticDepth: OpDef = {
  name: 'stochastic_depth',
  aliases: ['drop_path'],
  summary: 'drop the residual branch per sample (row) or per batch with probability p while training; identity in eval (torchvision StochasticDepth)',
  nameBase: 'stochastic_depth',
  arity: 1,
  params: [
    { name: 'p', type: 'float', positional: true, doc: 'drop probability, 0 <= p < 1' },
    { name: 'mode', type: 'string', default: 'row', doc: '"row": per sample; "batch": the whole batch at once' },
  ],
  torchType: () => 'StochasticDepth',
  attrs: (args) => ({ p: args['p'] as number, mode: args['mode'] as string }),
  infer(attrs, [input], ctx) {
    const p = attrs['p'] as number;
    if (!(p >= 0 && p < 1)) {
      ctx.error('NET2012', `stochastic depth probability must be in [0, 1), got ${p}`, { at: 'p' });
      return null;
    }
    if (!MODES.includes(attrs['mode'] as string)) {
      ctx.error('NET1003', `stochastic_depth mode must be "row" or "batch", got "${attrs['mode']}"`, { at: 'mode' });
      return null;
    }
    return input!;
  },
  pytorch: {
    module: (node) => ['torchvision.ops.StochasticDepth(', slot(node.attrs['p'] as number, 'p'), `, ${JSON.stringify(node.attrs['mode'])})`],
  },
  lower(ctx, node, [x]) {
    const Layer = dropPathLayer(ctx);
    return new Layer({ p: node.attrs['p'] as number, mode: node.attrs['mode'] as string, name: ctx.layerName(node) }).apply(x!) as SymbolicTensor;
  },
};

type DropPathArgs = { p: number; mode: string; name?: string };

const dropPathLayer = lazyLayer<DropPathArgs>((ctx) => {
  const tf = ctx.tf;
  return class NetcStochasticDepth extends ctx.layers.layers.Layer {
    static className = 'NetcStochasticDepth';
    private readonly p: number;
    private readonly mode: string;
    constructor(args: DropPathArgs) {
      super(args);
      this.p = args.p;
      this.mode = args.mode;
    }
    override call(inputs: tfc.Tensor | tfc.Tensor[], kwargs: { training?: boolean }): tfc.Tensor {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      if (!kwargs?.training || this.p === 0) return x;
      return tf.tidy(() => {
        const keep = 1 - this.p;
        // torchvision: noise ~ Bernoulli(keep) of shape [N, 1, 1, 1] (row) or [1, 1, 1, 1] (batch), divided by keep.
        const shape = [this.mode === 'row' ? x.shape[0]! : 1, ...x.shape.slice(1).map(() => 1)];
        const mask = tf.floor(tf.add(tf.randomUniform(shape), keep));
        return tf.mul(x, tf.div(mask, keep));
      });
    }
    override getConfig() {
      return { ...super.getConfig(), p: this.p, mode: this.mode };
    }
  };
});
