/** Sizes of shapes and weights: the one place they are multiplied out. */
import type { IRNode, WeightSpec } from './types.js';

/** The number of elements of a shape (1 for `[]`). */
export const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Which weights count as parameters: torchsummary's count (no buffers). */
export const PARAMETERS = (w: WeightSpec): boolean => !w.buffer;

/** Every weight, buffers (running statistics) included: what tfjs holds. */
export const ALL_WEIGHTS = (): boolean => true;

/** The elements of a node's weights that `which` selects (parameters, torchsummary's count, by default). */
export function weightCount(node: Pick<IRNode, 'weights'>, which: (w: WeightSpec) => boolean = PARAMETERS): number {
  let n = 0;
  for (const w of node.weights) if (which(w)) n += product(w.shape);
  return n;
}
