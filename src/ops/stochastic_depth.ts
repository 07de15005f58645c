import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { slot } from '../export/template.js';
import { defineOp } from './op.js';

const MODES = ['row', 'batch'];

/**
 * torchvision.ops.StochasticDepth (Huang et al., 2016; EfficientNet's residual branches): while training,
 * zero the whole input per sample ("row") or for the whole batch ("batch") with probability p and scale
 * the rest by 1 / (1 - p); the identity in eval. A module in torchvision, so it has a summary row.
 */
export const stochasticDepth = defineOp({
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
  // tfjs draws other numbers than torch: verify replays netc's per-sample keep mask in PyTorch.
  randomMask: { probability: 'p' },
  attrs: (args) => ({ p: args.p, mode: args.mode }),
  infer(attrs, [input], ctx) {
    const { p } = attrs;
    if (!(p >= 0 && p < 1)) {
      ctx.error('NET2012', `stochastic depth probability must be in [0, 1), got ${p}`, { at: 'p' });
      return null;
    }
    if (!MODES.includes(attrs.mode)) {
      ctx.error('NET1016', `stochastic_depth mode must be "row" or "batch", got "${attrs.mode}"`, { at: 'mode' });
      return null;
    }
    return input!;
  },
  pytorch: {
    module: (node) => ['torchvision.ops.StochasticDepth(', slot(node.attrs.p, 'p'), `, ${JSON.stringify(node.attrs.mode)})`],
  },
  lower(ctx, node, [x]) {
    // Dropout whose noise has shape [N, 1, 1, 1] (row: one draw per sample; null is the batch size) or
    // [1, 1, 1, 1] (batch) is torchvision's Bernoulli(1 - p) mask divided by 1 - p; identity in inference.
    const ones = node.shape!.map(() => 1);
    const noiseShape = [node.attrs.mode === 'row' ? null : 1, ...ones] as unknown as number[];
    return ctx.layers.layers.dropout({ rate: node.attrs.p, noiseShape, name: ctx.layerName(node) }).apply(x!) as SymbolicTensor;
  },
});
