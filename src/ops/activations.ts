import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { activation as lowerActivation } from '../lower/helpers.js';
import { slot, type Template } from '../export/template.js';
import type { LowerContext } from '../lower/context.js';
import { defineOp, type OpMembers, type OpNode, type ParamSpec } from './op.js';
import { refuseSequence } from './layout.js';

type Lowering = (ctx: LowerContext, node: OpNode<Record<string, number>>, inputs: SymbolicTensor[]) => SymbolicTensor;

/** Elementwise activations: shape-preserving, no weights; their parameters are numbers. */
function activation<const N extends string>(
  name: N,
  torchType: string,
  summary: string,
  lower: Lowering,
  params: ParamSpec[] = [],
  aliases?: string[],
  keeps: OpMembers<never>['keeps'] = { input: true },
  traits: { outputsProbabilities?: boolean } = {},
) {
  return defineOp({
    name,
    ...traits,
    keeps,
    aliases,
    summary,
    nameBase: name,
    arity: 1,
    params,
    torchType: () => torchType,
    attrs: (args): Record<string, number> => Object.fromEntries(params.map((p) => [p.name, Number(args[p.name])])),
    infer: (_attrs, [input]) => input!,
    lower: (ctx, node, inputs) => lower(ctx, node, inputs),
    pytorch: {
      // nn.<Type>(<its parameter values, in PyTorch's argument order>)
      module: (node): Template => {
        const args = params.flatMap((p, i): Template => [i ? ', ' : '', slot(node.attrs[p.name]!, p.torchName ?? p.name)]);
        return [`nn.${torchType}(`, ...args, torchType === 'Softmax' ? 'dim=1' : '', ')'];
      },
    },
  });
}

// What the gradients keep: ReLU its output (src/runtime/tape.ts), sigmoid/tanh/softmax their output,
// SiLU and GELU (composed of several kernels) their input and one more tensor, the rest their input.
export const relu = defineOp({
  ...activation('relu', 'ReLU', 'max(0, x) (nn.ReLU)', lowerActivation('relu'), [], undefined, { output: true }),
  recompute: true,
  kinks: [0],
});
export const relu6 = defineOp({ ...activation('relu6', 'ReLU6', 'min(max(0, x), 6) (nn.ReLU6)', lowerActivation('relu6')), kinks: [0, 6] });
export const leakyrelu = defineOp({
  kinks: [0],
  ...activation(
    'leakyrelu',
    'LeakyReLU',
    'x if x > 0 else slope * x (nn.LeakyReLU)',
    (ctx, node, [x]) => ctx.layers.layers.leakyReLU({ alpha: node.attrs['slope']!, name: ctx.layerName(node) }).apply(x!) as SymbolicTensor,
    [{ name: 'slope', type: 'float', positional: true, default: 0.01, aliases: ['negative_slope'], torchName: 'negative_slope', doc: 'slope for x < 0' }],
    ['leaky_relu'],
  ),
});
export const sigmoid = activation('sigmoid', 'Sigmoid', '1 / (1 + exp(-x)) (nn.Sigmoid)', lowerActivation('sigmoid'), [], undefined, { output: true });
export const tanh = activation('tanh', 'Tanh', 'hyperbolic tangent (nn.Tanh)', lowerActivation('tanh'), [], undefined, { output: true });
export const gelu = activation('gelu', 'GELU', 'Gaussian error linear unit, exact erf form (nn.GELU)', lowerActivation('gelu'), [], undefined, {
  input: true,
  extra: 1,
});
export const silu = activation('silu', 'SiLU', 'x * sigmoid(x), a.k.a. swish (nn.SiLU)', lowerActivation('swish'), [], ['swish'], { input: true, extra: 1 });
/**
 * PyTorch's hard sigmoid relu6(x + 3) / 6 (tfjs's 'hardSigmoid' is Keras's, slope 0.2: a different function),
 * built from layers every backend trains: rescale, relu6, rescale.
 */
function lowerHardSigmoid(ctx: Parameters<Lowering>[0], node: Parameters<Lowering>[1], x: SymbolicTensor, suffix = ''): SymbolicTensor {
  const L = ctx.layers.layers;
  const shifted = L.rescaling({ scale: 1, offset: 3, name: ctx.layerName(node, `${suffix}shift`) }).apply(x) as SymbolicTensor;
  const clipped = L.activation({ activation: 'relu6', name: ctx.layerName(node, `${suffix}relu6`) }).apply(shifted) as SymbolicTensor;
  return L.rescaling({ scale: 1 / 6, offset: 0, name: suffix ? ctx.layerName(node, `${suffix}scale`) : ctx.layerName(node) }).apply(clipped) as SymbolicTensor;
}
export const hardsigmoid = defineOp({
  kinks: [-3, 3],
  ...activation('hardsigmoid', 'Hardsigmoid', 'relu6(x + 3) / 6 (nn.Hardsigmoid)', (ctx, node, [x]) => lowerHardSigmoid(ctx, node, x!), [], ['hard_sigmoid'], {
    extra: 1,
  }),
}); // relu6 keeps x + 3
export const hardswish = defineOp({
  kinks: [-3, 3],
  ...activation(
    'hardswish',
    'Hardswish',
    'x * relu6(x + 3) / 6 (nn.Hardswish; MobileNetV3)',
    (ctx, node, [x]) => ctx.layers.layers.multiply({ name: ctx.layerName(node) }).apply([x!, lowerHardSigmoid(ctx, node, x!, 'gate_')]) as SymbolicTensor,
    [],
    ['hard_swish'],
    { input: true, extra: 2 },
  ),
}); // the product keeps x and the gate, relu6 keeps x + 3
export const softmax = defineOp({
  ...activation(
    'softmax',
    'Softmax',
    'softmax over channels/features (nn.Softmax(dim=1))',
    lowerActivation('softmax'),
    [],
    undefined,
    { output: true },
    { outputsProbabilities: true },
  ),
  // dim 1 of a sequence is its tokens, and the lowering takes the last axis (the features).
  infer: (_attrs, [input], ctx) =>
    refuseSequence('softmax', input!, ctx, 'take a token out with `token 0` first, or softmax the vector a head gives') ? input! : null,
});
export const dropout = defineOp({
  ...activation(
    'dropout',
    'Dropout',
    'zeroes elements with probability p while training (nn.Dropout)',
    (ctx, node, [x]) => ctx.layers.layers.dropout({ rate: node.attrs['p']!, name: ctx.layerName(node) }).apply(x!) as SymbolicTensor,
    [{ name: 'p', type: 'float', positional: true, default: 0.5, doc: 'drop probability, 0 <= p < 1' }],
    undefined,
    { input: true, extra: 1 },
  ), // x * mask: the product keeps both
  randomMask: { probability: 'p' },
  passThrough: true,
  infer(attrs, [input], ctx) {
    const p = attrs['p']!;
    if (!(p >= 0 && p < 1)) {
      ctx.error('NET2012', `dropout probability must be in [0, 1), got ${p}`, { at: 'p' });
      return null;
    }
    return input!;
  },
});
