import type { Shape } from '../ir/types.js';
import type { ShapeContext, Value } from './op.js';

/** A scalar or `(h, w)` argument as a pair. */
export function pair(value: Value | number[] | undefined, fallback: number): [number, number] {
  if (Array.isArray(value)) return [value[0] ?? fallback, value[1] ?? value[0] ?? fallback];
  if (typeof value === 'number') return [value, value];
  return [fallback, fallback];
}

/** The attributes of a sliding window (conv, pools): per-axis pairs. */
export interface WindowAttrs {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation?: [number, number];
}

/** Requires a feature map `[C, H, W]`; reports and returns false otherwise. */
export function requireFeatureMap(what: string, input: Shape, ctx: ShapeContext): input is [number, number, number] {
  if (input.length === 3) return true;
  ctx.error('NET2008', `${what} expects a feature map [C, H, W], got [${input.join(', ')}]`, {
    help: 'this input is already flat; spatial layers go before `flatten`, `gap` or `linear`',
  });
  return false;
}

const AXES = ['height', 'width'] as const;

/**
 * PyTorch's output size `floor((H + 2P - D*(K-1) - 1) / S) + 1` (or ceil, with PyTorch's rule that the
 * last window must start inside the input or left padding). Reports a non-positive size as an error and
 * trailing input rows that no window reads as a warning.
 */
export function windowOutput(input: [number, number, number], attrs: WindowAttrs, ctx: ShapeContext, ceilMode = false): [number, number] | null {
  const { kernel, stride, padding } = attrs;
  const dilation = attrs.dilation ?? [1, 1];
  const out: number[] = [];
  for (let axis = 0; axis < 2; axis++) {
    const size = input[axis + 1]!;
    const [k, s, p, d] = [kernel[axis]!, stride[axis]!, padding[axis]!, dilation[axis]!];
    const span = d * (k - 1) + 1;
    const numerator = size + 2 * p - span;
    const formula = `floor((${size} + 2*${p} - ${d}*(${k}-1) - 1) / ${s}) + 1`;
    if (numerator < 0) {
      ctx.error('NET2004', `output ${AXES[axis]} would be ${Math.floor(numerator / s) + 1}: ${formula}`, {
        at: 'k',
        notes: [`the ${span}-wide window does not fit in the ${size}-wide input with padding ${p}`],
        help: 'use a smaller kernel, more padding, or a larger input (`--input`)',
      });
      return null;
    }
    let n = ceilMode ? Math.ceil(numerator / s) + 1 : Math.floor(numerator / s) + 1;
    if (ceilMode && (n - 1) * s >= size + p) n -= 1;
    const unread = size + 2 * p - ((n - 1) * s + span) - p;
    if (!ceilMode && unread > 0 && span >= s) {
      ctx.warning(
        'NET2005',
        `stride ${s} leaves the last ${unread} input ${unread === 1 ? 'row' : 'rows'} unread along ${AXES[axis]}: ${formula} = ${n} (${numerator} is not divisible by ${s})`,
        {
          at: 'stride',
          help: `pad by ${p + Math.ceil(unread / 2)} or use an input ${AXES[axis]} of ${size - unread} or ${size - unread + s}`,
        },
      );
    }
    out.push(n);
  }
  return out as [number, number];
}

export function windowFields(attrs: WindowAttrs) {
  return { kernel: attrs.kernel[0], stride: attrs.stride[0], dilation: (attrs.dilation ?? [1, 1])[0] };
}
