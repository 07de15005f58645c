import type { SymbolicTensor } from '@tensorflow/tfjs-layers';
import { activation as lowerActivation, num } from '../lower/helpers.js';
import type { Lowering } from '../lower/helpers.js';
import { slot, type Template } from '../export/template.js';
import type { OpDef, ParamSpec } from './op.js';

/** Elementwise activations: shape-preserving, no weights. */
function activation(name: string, torchType: string, summary: string, lower: Lowering, params: ParamSpec[] = [], aliases?: string[], keeps: OpDef['keeps'] = { input: true }): OpDef {
  return {
    name,
    keeps,
    aliases,
    summary,
    nameBase: name,
    arity: 1,
    params,
    torchType: () => torchType,
    attrs: (args) => Object.fromEntries(params.map((p) => [p.name, args[p.name] as number])),
    infer: (_attrs, [input]) => input!,
    lower: (ctx, node, inputs) => lower(ctx, node, inputs),
    pytorch: {
      // nn.<Type>(<its parameter values, in PyTorch's argument order>)
      module: (node): Template => {
        const args = params.flatMap((p, i): Template => [i ? ', ' : '', slot(node.attrs[p.name] as number, p.torchName ?? p.name)]);
        return [`nn.${torchType}(`, ...args, torchType === 'Softmax' ? 'dim=1' : '', ')'];
      },
    },
  };
}

// What the gradients keep: ReLU its output (src/runtime/tape.ts), sigmoid/tanh/softmax their output,
// SiLU and GELU (composed of several kernels) their input and one more tensor, the rest their input.
export const relu: OpDef = { ...activation('relu', 'ReLU', 'max(0, x) (nn.ReLU)', lowerActivation('relu'), [], undefined, { output: true }), kinks: [0] };
export const relu6: OpDef = { ...activation('relu6', 'ReLU6', 'min(max(0, x), 6) (nn.ReLU6)', lowerActivation('relu6')), kinks: [0, 6] };
export const leakyrelu: OpDef = { kinks: [0], ...activation('leakyrelu', 'LeakyReLU', 'x if x > 0 else slope * x (nn.LeakyReLU)',
  (ctx, node, [x]) => ctx.layers.layers.leakyReLU({ alpha: num(node.attrs['slope'], 0.01), name: ctx.layerName(node) }).apply(x!) as SymbolicTensor, [
  { name: 'slope', type: 'float', positional: true, default: 0.01, aliases: ['negative_slope'], torchName: 'negative_slope', doc: 'slope for x < 0' },
], ['leaky_relu']) };
export const sigmoid = activation('sigmoid', 'Sigmoid', '1 / (1 + exp(-x)) (nn.Sigmoid)', lowerActivation('sigmoid'), [], undefined, { output: true });
export const tanh = activation('tanh', 'Tanh', 'hyperbolic tangent (nn.Tanh)', lowerActivation('tanh'), [], undefined, { output: true });
export const gelu = activation('gelu', 'GELU', 'Gaussian error linear unit, exact erf form (nn.GELU)', lowerActivation('gelu'), [], undefined, { input: true, extra: 1 });
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
export const hardsigmoid: OpDef = { kinks: [-3, 3], ...activation('hardsigmoid', 'Hardsigmoid', 'relu6(x + 3) / 6 (nn.Hardsigmoid)',
  (ctx, node, [x]) => lowerHardSigmoid(ctx, node, x!), [], ['hard_sigmoid'], { extra: 1 }) }; // relu6 keeps x + 3
export const hardswish: OpDef = { kinks: [-3, 3], ...activation('hardswish', 'Hardswish', 'x * relu6(x + 3) / 6 (nn.Hardswish; MobileNetV3)',
  (ctx, node, [x]) => ctx.layers.layers.multiply({ name: ctx.layerName(node) }).apply([x!, lowerHardSigmoid(ctx, node, x!, 'gate_')]) as SymbolicTensor,
  [], ['hard_swish'], { input: true, extra: 2 }) }; // the product keeps x and the gate, relu6 keeps x + 3
export const softmax = activation('softmax', 'Softmax', 'softmax over channels/features (nn.Softmax(dim=1))', lowerActivation('softmax'), [], undefined, { output: true });
export const dropout: OpDef = {
  ...activation('dropout', 'Dropout', 'zeroes elements with probability p while training (nn.Dropout)',
    (ctx, node, [x]) => ctx.layers.layers.dropout({ rate: num(node.attrs['p'], 0.5), name: ctx.layerName(node) }).apply(x!) as SymbolicTensor, [
    { name: 'p', type: 'float', positional: true, default: 0.5, doc: 'drop probability, 0 <= p < 1' },
  ], undefined, { input: true, extra: 1 }), // x * mask: the product keeps both
  randomMask: { probability: 'p' },
  infer(attrs, [input], ctx) {
    const p = attrs['p'] as number;
    if (!(p >= 0 && p < 1)) {
      ctx.error('NET2012', `dropout probability must be in [0, 1), got ${p}`, { at: 'p' });
      return null;
    }
    return input!;
  },
};
