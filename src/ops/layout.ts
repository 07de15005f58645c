import type { Shape } from '../ir/types.js';
import type { ShapeContext } from './op.js';

/**
 * Which 3-D values are channels-last `[H, W, C]` rather than feature maps `[C, H, W]`. PyTorch cannot tell
 * them apart (a shape is all it has), and neither can a shape rule; netc marks the shapes `permute (0, 2, 3, 1)`
 * produces (ConvNeXt's blocks), and shape-keeping ops pass the same array on, so `layernorm` and `linear`
 * accept a channels-last map (over its last dim) and still refuse a feature map whose last dim is its width.
 * Only the checker reads this: lowering and export follow the IR shapes, which are PyTorch's.
 */
const channelsLast = new WeakSet<Shape>();

export function markChannelsLast(shape: Shape): Shape {
  channelsLast.add(shape);
  return shape;
}

export function isChannelsLast(shape: Shape): boolean {
  return channelsLast.has(shape);
}

/** A sequence [L, D], a vector [F] or a channels-last map [H, W, C]: values whose last dim is the features. */
export function featuresLast(shape: Shape): boolean {
  return shape.length <= 2 || isChannelsLast(shape);
}

/** IR axis i of a value of this rank -> its axis in the tfjs tensor (batch first): [C,H,W] is [N,H,W,C]. */
export function tfAxis(rank: number, i: number): number {
  return rank === 3 ? [3, 1, 2][i]! : i + 1;
}

/**
 * Refuses a token sequence [L, D] for an op that works on channels (dim 1, which is L in a sequence):
 * its lowering and export assume feature maps or vectors. Reports NET2014 and returns false.
 */
export function refuseSequence(what: string, input: Shape, ctx: ShapeContext, help: string): boolean {
  if (input.length !== 2) return true;
  ctx.error('NET2014', `${what} works on channels of a feature map or a vector, got the sequence [${input.join(', ')}]`, { help });
  return false;
}
