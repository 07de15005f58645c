/**
 * Helpers shared by the ops' `lower` members (src/ops/*.ts). Type-only tfjs imports: everything that
 * runs comes through the LowerContext, so loading the op table never loads TensorFlow.js.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { AttrValue, NodeData } from '../ir/types.js';
import type { LowerContext } from './context.js';
import { UserError } from '../diagnostics/user-error.js';

export type ST = tfl.SymbolicTensor;
export type Lowering = (ctx: LowerContext, node: NodeData, inputs: ST[]) => ST;

/** A node with no tfjs lowering: a user-facing failure (exit 1) naming the node. */
export class LowerError extends UserError {
  constructor(
    readonly node: NodeData,
    message: string,
  ) {
    super(`cannot lower ${node.name}: ${message}`);
  }
}

/** An attribute that is a number or a pair, as a pair. */
export function pair(v: AttrValue | undefined, dflt: number): [number, number] {
  if (v == null) return [dflt, dflt];
  if (Array.isArray(v)) {
    const [a = dflt, b = a] = v;
    return [a, b];
  }
  return [Number(v), Number(v)];
}
export const num = (v: AttrValue | undefined, dflt: number): number => (v == null ? dflt : Number(v));
export const bool = (v: AttrValue | undefined, dflt: boolean): boolean => (v == null ? dflt : Boolean(v));

/** Explicit symmetric zero padding (tfjs 'same' differs from PyTorch for stride 2). */
export function zeroPad(ctx: LowerContext, node: NodeData, x: ST, [ph, pw]: [number, number]): ST {
  if (ph === 0 && pw === 0) return x;
  const layer = ctx.layers.layers.zeroPadding2d({
    padding: [
      [ph, ph],
      [pw, pw],
    ],
    name: ctx.layerName(node, 'pad'),
  });
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

export function activation(name: string): Lowering {
  return (ctx, node, [x]) => ctx.layers.layers.activation({ activation: name as 'relu', name: ctx.layerName(node) }).apply(x!) as ST;
}

export function pool(kind: 'max' | 'avg'): Lowering {
  return (ctx, node, [x]) => {
    // The checker gave a pool a [C, H, W] input and output.
    const [, h, w] = ctx.inputShape(node) as [number, number, number];
    const out = node.shape! as [number, number, number];
    const k = pair(node.attrs.kernel, 1);
    const s = pair(node.attrs.stride ?? node.attrs.kernel, 1);
    const p = pair(node.attrs.padding, 0);
    const d = pair(node.attrs.dilation, 1);
    const dilated = d[0] !== 1 || d[1] !== 1;
    if (dilated && kind !== 'max') throw new LowerError(node, `${kind}pool with dilation ${d.join('x')} has no tfjs lowering`);
    const eh = extraEnd(h, out[1], k[0], s[0], d[0], p[0]);
    const ew = extraEnd(w, out[2], k[1], s[1], d[1], p[1]);
    let y = x!;
    // A max pool of stride 1 padding (k-1)/2 on each side is tfjs's 'same', whose windows skip the
    // padding (= -inf padding) on every backend: no padded copy of the input, no slice of its gradient.
    const same = kind === 'max' && !dilated && !eh && !ew && [0, 1].every((i) => s[i] === 1 && k[i]! % 2 === 1 && p[i] === (k[i]! - 1) / 2);
    if (!same && (p[0] || p[1] || eh || ew)) {
      const padding: [[number, number], [number, number]] = [
        [p[0], p[0] + eh],
        [p[1], p[1] + ew],
      ];
      // Max-pool pads with -inf; average pool counts the padding (count_include_pad=True), i.e. zeros.
      const layer =
        kind === 'max'
          ? new ctx.custom.NegInfPadding2D({ padding, name: ctx.layerName(node, 'pad') })
          : ctx.layers.layers.zeroPadding2d({ padding, name: ctx.layerName(node, 'pad') });
      y = layer.apply(y) as ST;
    }
    const args = { poolSize: k, strides: s, padding: same ? ('same' as const) : ('valid' as const), name: ctx.layerName(node) };
    // tfjs pools have no dilation: netc's layer takes the maximum over the dilated taps.
    const layer = dilated
      ? new ctx.custom.DilatedMaxPool2D({ kernel: k, strides: s, dilation: d, name: ctx.layerName(node) })
      : kind === 'max'
        ? ctx.layers.layers.maxPooling2d(args)
        : ctx.layers.layers.averagePooling2d(args);
    y = layer.apply(y) as ST;
    if (kind === 'avg' && (eh || ew)) {
      // PyTorch divides a window by the elements it covers within input + padding (the ceil-mode
      // overhang is not counted); the pool above divided by k*k.
      const cover = (i: number, size: number, kk: number, ss: number, pp: number) => Math.min(i * ss + kk, size + 2 * pp) - i * ss;
      const factors = Array.from({ length: out[1]! }, (_, i) =>
        Array.from({ length: out[2]! }, (_, j) => (k[0] * k[1]) / (cover(i, h, k[0], s[0], p[0]) * cover(j, w, k[1], s[1], p[1]))),
      );
      y = new ctx.custom.PositionScale({ factors, name: ctx.layerName(node, 'divisor') }).apply(y) as ST;
    }
    return y;
  };
}
