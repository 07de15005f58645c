/**
 * Turning uint8 images into float batches: scaling to [0,1], normalisation with the training set's
 * per-channel mean/std, and augmentation (random crop with zero padding, horizontal flip), all with
 * a seeded generator so the same seed gives the same run.
 */
import type { Split } from './data/dataset.js';

export interface Norm {
  mean: number[];
  std: number[];
}

/** Per-channel mean and std of a split's pixels, in [0,1] units. */
export function channelMeanStd(s: Split, c: number): Norm {
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  const n = s.images.length / c;
  for (let i = 0; i < s.images.length; i++) {
    const v = s.images[i]! / 255;
    sum[i % c]! += v;
    sq[i % c]! += v * v;
  }
  const mean = Array.from(sum, (v) => v / n);
  return { mean, std: Array.from(sq, (v, k) => Math.sqrt(Math.max(1e-12, v / n - mean[k]! * mean[k]!))) };
}

export interface BatchOptions {
  shape: [number, number, number];
  norm: Norm | null;
  crop: number;
  flip: boolean;
  rand: () => number;
}

/** Builds a channels-last float batch from the samples at idx. */
export function makeBatch(s: Split, idx: ArrayLike<number>, o: BatchOptions): { x: Float32Array; y: Int32Array } {
  const [c, h, w] = o.shape;
  const per = c * h * w;
  const x = new Float32Array(idx.length * per);
  const y = new Int32Array(idx.length);
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  for (let k = 0; k < c; k++) {
    const std = o.norm ? o.norm.std[k]! : 1;
    scale[k] = 1 / (255 * std);
    shift[k] = o.norm ? -o.norm.mean[k]! / std : 0;
  }
  for (let b = 0; b < idx.length; b++) {
    const j = idx[b]!;
    y[b] = s.labels[j]!;
    const src = j * per;
    const dst = b * per;
    const dy = o.crop ? Math.floor(o.rand() * (2 * o.crop + 1)) - o.crop : 0;
    const dx = o.crop ? Math.floor(o.rand() * (2 * o.crop + 1)) - o.crop : 0;
    const flip = o.flip && o.rand() < 0.5;
    for (let r = 0; r < h; r++) {
      const sr = r + dy;
      for (let col = 0; col < w; col++) {
        const sc0 = (flip ? w - 1 - col : col) + dx;
        const d = dst + (r * w + col) * c;
        // Outside the image after the shift: the zero padding (0 before normalisation).
        const inside = sr >= 0 && sr < h && sc0 >= 0 && sc0 < w;
        for (let k = 0; k < c; k++) {
          const v = inside ? s.images[src + (sr * w + sc0) * c + k]! : 0;
          x[d + k] = v * scale[k]! + shift[k]!;
        }
      }
    }
  }
  return { x, y };
}
