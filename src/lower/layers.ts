/**
 * tfjs lowerings of the IR's operations, with PyTorch's semantics.
 *
 * These are the defaults used when an op's definition in `src/ops/` has no `lower` member of its own
 * (the op table is the place for them; this table lets lowering and training be developed and tested
 * independently of the front end). Each entry takes the node's input symbolic tensors and returns
 * its output, in the layout described in `context.ts`.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { AttrValue, IRNode } from '../ir/types.js';
import type { LowerContext } from './context.js';
import { TorchBatchNorm } from './batchnorm.js';
import { ChannelScale, NegInfPadding2D, ToMap11 } from './custom-layers.js';

type ST = tfl.SymbolicTensor;
export type Lowering = (ctx: LowerContext, node: IRNode, inputs: ST[]) => ST;

export class LowerError extends Error {
  constructor(
    readonly node: IRNode,
    message: string,
  ) {
    super(message);
  }
}

/** An attribute that is a number or a pair, as a pair. */
function pair(v: AttrValue | undefined, dflt: number): [number, number] {
  if (v == null) return [dflt, dflt];
  if (Array.isArray(v)) return [v[0], v.length > 1 ? v[1] : v[0]];
  return [Number(v), Number(v)];
}
const num = (v: AttrValue | undefined, dflt: number): number => (v == null ? dflt : Number(v));
const bool = (v: AttrValue | undefined, dflt: boolean): boolean => (v == null ? dflt : Boolean(v));

/** Explicit symmetric zero padding (tfjs 'same' differs from PyTorch for stride 2). */
function zeroPad(ctx: LowerContext, node: IRNode, x: ST, [ph, pw]: [number, number]): ST {
  if (ph === 0 && pw === 0) return x;
  const layer = ctx.layers.layers.zeroPadding2d({ padding: [[ph, ph], [pw, pw]], name: ctx.layerName(node, 'pad') });
  return layer.apply(x) as ST;
}

/**
 * Rows/columns to add at the bottom/right beyond the symmetric padding, so that a 'valid' window
 * sweep yields exactly the output size the checker computed (ceil_mode adds some; floor with a
 * remainder needs none because 'valid' drops them, as PyTorch does).
 */
function extraEnd(inSize: number, outSize: number, k: number, s: number, d: number, p: number): number {
  const needed = (outSize - 1) * s + (k - 1) * d + 1;
  return Math.max(0, needed - (inSize + 2 * p));
}

function activation(name: string): Lowering {
  return (ctx, node, [x]) => ctx.layers.layers.activation({ activation: name as 'relu', name: ctx.layerName(node) }).apply(x) as ST;
}

function pool(kind: 'max' | 'avg'): Lowering {
  return (ctx, node, [x]) => {
    const [c, h, w] = ctx.inputShape(node);
    const out = node.shape!;
    const k = pair(node.attrs.kernel, 1);
    const s = pair(node.attrs.stride ?? node.attrs.kernel, 1);
    const p = pair(node.attrs.padding, 0);
    const d = pair(node.attrs.dilation, 1);
    if (d[0] !== 1 || d[1] !== 1) throw new LowerError(node, `${kind}pool with dilation ${d.join('x')} has no tfjs lowering`);
    void c;
    const eh = extraEnd(h, out[1], k[0], s[0], 1, p[0]);
    const ew = extraEnd(w, out[2], k[1], s[1], 1, p[1]);
    let y = x;
    if (p[0] || p[1] || eh || ew) {
      const padding: [[number, number], [number, number]] = [[p[0], p[0] + eh], [p[1], p[1] + ew]];
      // Max-pool pads with -inf; average pool counts the padding (count_include_pad=True), i.e. zeros.
      const layer =
        kind === 'max'
          ? new NegInfPadding2D({ padding, name: ctx.layerName(node, 'pad') })
          : ctx.layers.layers.zeroPadding2d({ padding, name: ctx.layerName(node, 'pad') });
      y = layer.apply(y) as ST;
    }
    const args = { poolSize: k, strides: s, padding: 'valid' as const, name: ctx.layerName(node) };
    const layer = kind === 'max' ? ctx.layers.layers.maxPooling2d(args) : ctx.layers.layers.averagePooling2d(args);
    return layer.apply(y) as ST;
  };
}

export const defaultLowerings: Record<string, Lowering> = {
  input: () => {
    throw new Error('input is lowered by the driver');
  },
  identity: (_ctx, _node, [x]) => x,

  conv(ctx, node, [x]) {
    const [cin] = ctx.inputShape(node);
    const out = num(node.attrs.out, 0);
    const groups = num(node.attrs.groups, 1);
    const kernel = pair(node.attrs.kernel, 1);
    const strides = pair(node.attrs.stride, 1);
    const dilation = pair(node.attrs.dilation, 1);
    const useBias = bool(node.attrs.bias, true);
    if ((dilation[0] > 1 || dilation[1] > 1) && (strides[0] > 1 || strides[1] > 1)) {
      throw new LowerError(node, 'a conv with both dilation and stride > 1 has no tfjs lowering');
    }
    const pad = pair(node.attrs.padding, 0);
    // tfjs 'same' equals PyTorch's symmetric padding only at stride 1 with p = d*(k-1)/2; it saves a
    // pad and its gradient's slice per conv. Otherwise pad explicitly and convolve 'valid'.
    const same = strides[0] === 1 && strides[1] === 1 && pad[0] * 2 === dilation[0] * (kernel[0] - 1) && pad[1] * 2 === dilation[1] * (kernel[1] - 1);
    const y = same ? x : zeroPad(ctx, node, x, pad);
    const padding = same ? ('same' as const) : ('valid' as const);
    let layer;
    if (groups === 1) {
      layer = ctx.layers.layers.conv2d({ filters: out, kernelSize: kernel, strides, dilationRate: dilation, padding, useBias, name: ctx.layerName(node) });
    } else if (groups === cin && out % cin === 0) {
      layer = ctx.layers.layers.depthwiseConv2d({ kernelSize: kernel, depthMultiplier: out / cin, strides, dilationRate: dilation, padding, useBias, name: ctx.layerName(node) });
    } else {
      throw new LowerError(node, `grouped conv (groups=${groups}, ${cin} in, ${out} out) has no tfjs lowering; only groups=1 or depthwise`);
    }
    ctx.own(node, layer);
    return layer.apply(y) as ST;
  },

  bn(ctx, node, [x]) {
    // PyTorch's momentum (0.1) and eps (1e-5); see batchnorm.ts for why not tfjs's own layer.
    const layer = new TorchBatchNorm({
      torchMomentum: num(node.attrs.momentum, 0.1),
      epsilon: num(node.attrs.eps, 1e-5),
      name: ctx.layerName(node),
    });
    ctx.own(node, layer);
    return layer.apply(x) as ST;
  },

  relu: activation('relu'),
  relu6: activation('relu6'),
  sigmoid: activation('sigmoid'),
  tanh: activation('tanh'),
  gelu: activation('gelu'),
  silu: activation('swish'),
  softmax: activation('softmax'),
  leakyrelu(ctx, node, [x]) {
    return ctx.layers.layers.leakyReLU({ alpha: num(node.attrs.slope, 0.01), name: ctx.layerName(node) }).apply(x) as ST;
  },

  maxpool: pool('max'),
  avgpool: pool('avg'),

  gap(ctx, node, [x]) {
    // The layer named after the node produces the node's IR shape ([C,1,1] keeps PyTorch's 1x1 map).
    const keepMap = node.shape!.length === 3;
    const y = ctx.layers.layers.globalAveragePooling2d({ name: ctx.layerName(node, keepMap ? 'pool' : undefined) }).apply(x) as ST;
    return keepMap ? (new ToMap11({ name: ctx.layerName(node) }).apply(y) as ST) : y;
  },
  adaptive_avgpool(ctx, node, [x]) {
    const [, h, w] = ctx.inputShape(node);
    const [oh, ow] = pair(node.attrs.size, 1);
    if (oh === 1 && ow === 1) return defaultLowerings.gap(ctx, node, [x]);
    if (h % oh !== 0 || w % ow !== 0) {
      throw new LowerError(node, `adaptive average pool from ${h}x${w} to ${oh}x${ow} is not a uniform pool and has no tfjs lowering`);
    }
    const k: [number, number] = [h / oh, w / ow];
    return ctx.layers.layers.averagePooling2d({ poolSize: k, strides: k, padding: 'valid', name: ctx.layerName(node) }).apply(x) as ST;
  },

  flatten(ctx, node, [x]) {
    return ctx.flattenCHW(node, x, ctx.inputShape(node)) as ST;
  },

  linear(ctx, node, [x]) {
    const inShape = ctx.inputShape(node);
    const flat = inShape.length > 1 ? (ctx.flattenCHW(node, x, inShape) as ST) : x;
    const layer = ctx.layers.layers.dense({ units: num(node.attrs.out, 0), useBias: bool(node.attrs.bias, true), name: ctx.layerName(node) });
    ctx.own(node, layer);
    return layer.apply(flat) as ST;
  },

  dropout(ctx, node, [x]) {
    return ctx.layers.layers.dropout({ rate: num(node.attrs.p, 0.5), name: ctx.layerName(node) }).apply(x) as ST;
  },

  add(ctx, node, inputs) {
    if (inputs.length === 1) return inputs[0];
    return ctx.layers.layers.add({ name: ctx.layerName(node) }).apply(inputs) as ST;
  },
  concat(ctx, node, inputs) {
    if (inputs.length === 1) return inputs[0];
    return ctx.layers.layers.concatenate({ axis: -1, name: ctx.layerName(node) }).apply(inputs) as ST;
  },
  scale(ctx, node, inputs) {
    return new ChannelScale({ name: ctx.layerName(node) }).apply(inputs) as ST;
  },
};
