import type { Shape } from '../ir/types.js';
import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { defineOp } from './op.js';

const show = (s: Shape) => `[${s.join(', ')}]`;

/** The network's input placeholder. */
export const input = defineOp({
  name: 'input',
  internal: true,
  graphInput: true,
  summary: 'the network input',
  nameBase: 'input',
  arity: 1,
  params: [],
  torchType: () => null,
  infer: (_attrs, [shape]) => shape!,
  lower: (ctx) => ctx.input(),
});

/** `a + b`: elementwise sum of branches that read the same input (residual connections). */
export const add = defineOp({
  name: 'add',
  internal: true,
  operator: '+',
  dotLabel: '+',
  summary: 'elementwise sum (residual add)',
  nameBase: 'add',
  arity: 'many',
  params: [],
  torchType: () => null,
  infer(_attrs, inputs, ctx) {
    const [first, ...rest] = inputs;
    for (const other of rest) {
      if (other.length !== first!.length || other.some((d, i) => d !== first![i])) {
        const what =
          first!.length === 3 && other.length === 3 && first![0] !== other[0]
            ? `channels differ: left gives ${first![0]}, right gives ${other[0]}`
            : `shapes differ: left gives ${show(first!)}, right gives ${show(other)}`;
        ctx.error('NET2001', `cannot add: ${what}`, {
          help: "use `shortcut` to project the input to the body's shape, or change the body so it keeps the shape",
        });
        return null;
      }
    }
    return first!;
  },
  pytorch: { expr: (args) => args.join(' + ') },
  // netc's sum: tfjs's Add would keep both inputs for its gradient only to read their shapes.
  lower: (ctx, node, inputs) => (inputs.length === 1 ? inputs[0]! : (new ctx.custom.Sum({ name: ctx.layerName(node) }).apply(inputs) as SymbolicTensor)),
});

/** `a ++ b` and `[a | b]`: concatenation along channels (features for flat inputs). */
export const concat = defineOp({
  keeps: { input: true },
  name: 'concat',
  internal: true,
  operator: '++',
  dotLabel: 'cat',
  summary: 'concatenation along channels',
  nameBase: 'cat',
  arity: 'many',
  params: [],
  torchType: () => null,
  infer(_attrs, inputs, ctx) {
    const [first, ...rest] = inputs;
    for (const other of rest) {
      if (other.length !== first!.length || other.slice(1).some((d, i) => d !== first![i + 1])) {
        ctx.error('NET2002', `cannot concatenate: ${show(first!)} and ${show(other)} differ outside the channel axis`, {
          help: 'branches must keep the same height and width; check strides and padding',
        });
        return null;
      }
    }
    return [inputs.reduce((sum, s) => sum + s[0]!, 0), ...first!.slice(1)];
  },
  pytorch: { expr: (args) => `torch.cat([${args.join(', ')}], 1)` },
  lower: (ctx, node, inputs) =>
    // dim 1 is the channels of [N, H, W, C] and [N, F] (the last axis) but the tokens of a sequence [N, L, D].
    inputs.length === 1
      ? inputs[0]!
      : (ctx.layers.layers.concatenate({ axis: node.shape!.length === 2 ? 1 : -1, name: ctx.layerName(node) }).apply(inputs) as SymbolicTensor),
});

const isGate = (s: Shape) => s.length === 1 || (s.length === 3 && s[1] === 1 && s[2] === 1);
/**
 * Which operand of `a * b` holds the features (the other is the gate): the one that is not gate-shaped,
 * or, when both are (a [C, 1, 1] map after `gap` gated by [C]), the higher-rank one, else the left.
 */
export function scaleFeatures(a: Shape, b: Shape): 0 | 1 {
  if (isGate(a) && isGate(b)) return b.length > a.length ? 1 : 0;
  return isGate(b) ? 0 : 1;
}

/** `a * b`: channel-wise scaling; one operand is a gate of shape [C], [C, 1, 1] (squeeze-and-excitation). */
export const scale = defineOp({
  keeps: { input: true },
  name: 'scale',
  internal: true,
  operator: '*',
  dotLabel: '×',
  summary: 'channel-wise scaling by a gate',
  nameBase: 'scale',
  arity: 'many',
  params: [],
  torchType: () => null,
  infer(_attrs, [a, b], ctx) {
    const [x, gate] = scaleFeatures(a!, b!) === 0 ? [a!, b!] : [b!, a!];
    const same = x.length === gate.length && x.every((d, i) => d === gate[i]);
    if (x.length === 2 && !same) {
      ctx.error('NET2003', `cannot scale the sequence ${show(x)} by ${show(gate)}: a sequence is scaled only by a value of its own shape`);
      return null;
    }
    if (!isGate(gate) && !same) {
      ctx.error('NET2003', `cannot scale: ${show(a!)} by ${show(b!)}; one side must be a gate of shape [C] or [C, 1, 1], or both equal`);
      return null;
    }
    if (gate[0] !== x[0]) {
      ctx.error('NET2003', `cannot scale: channels differ: the gate has ${gate[0]}, the features have ${x[0]}`);
      return null;
    }
    return x;
  },
  pytorch: {
    expr(args, [a, b]) {
      const xi = scaleFeatures(a!, b!);
      const gi = 1 - xi;
      const flatGate = [a, b][xi]!.length === 3 && [a, b][gi]!.length === 1;
      return `${args[xi]} * ${flatGate ? `${args[gi]}[:, :, None, None]` : args[gi]}`;
    },
  },
  lower: (ctx, node, inputs) => new ctx.custom.ChannelScale({ name: ctx.layerName(node) }).apply(inputs) as SymbolicTensor,
});
