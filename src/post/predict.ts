/**
 * Predictions for a folder of images: every PNG/JPEG below it (sorted by path), resized to the
 * net's input and converted to its channels, normalised as in training, classified in batches.
 *
 * Preprocessing (the same as `--data imagefolder:` in training, src/train/data/imagefolder.ts):
 * bilinear resize (half-pixel centres) straight to the net's H x W, aspect ratio not kept, no crop;
 * for a 1-channel net the luminance 0.299 R + 0.587 G + 0.114 B; alpha ignored; then pixels / 255
 * and the run's per-channel mean/std.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { makeBatch, type Norm } from '../train/batches.js';
import type { Split } from '../train/data/dataset.js';
import { decodeImage, resizeTo } from '../train/data/imagefolder.js';
import { RunError } from './run.js';

const IMAGE = /\.(png|jpe?g)$/i;

/** Image files below root (recursively, sorted by their path relative to root). */
export function listImages(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && IMAGE.test(name)) found.push(p);
    }
  };
  walk(root);
  return found.sort((a, b) => (relative(root, a) < relative(root, b) ? -1 : 1));
}

/** Decodes and resizes files into a split of uint8 channels-last images of shape [C, H, W]. */
export function loadImages(files: string[], [c, h, w]: [number, number, number], progress?: (done: number, total: number) => void): Split {
  if (c !== 1 && c !== 3) throw new RunError(`the net takes ${c}-channel images; predict and cam read grayscale (1) or RGB (3) images only`);
  const per = c * h * w;
  const images = new Uint8Array(files.length * per);
  files.forEach((f, i) => {
    resizeTo(decodeImage(f), h, w, c, images, i * per);
    progress?.(i + 1, files.length);
  });
  return { images, labels: new Uint16Array(files.length), count: files.length };
}

/** The channels-last float input for samples [start, end) of a split, normalised like training batches. */
export function inputBatch(s: Split, start: number, end: number, shape: [number, number, number], norm: Norm | null): tf.Tensor4D {
  const idx = Int32Array.from({ length: end - start }, (_, k) => start + k);
  const { x } = makeBatch(s, idx, { shape, norm, crop: 0, flip: false, rand: Math.random });
  return tf.tensor4d(x, [idx.length, shape[1], shape[2], shape[0]]);
}

/** Class probabilities from the model's output: softmax of logits, or the output itself when the net ends in softmax. */
export function probabilities(out: tf.Tensor, outputsProbabilities: boolean): tf.Tensor {
  return outputsProbabilities ? out : tf.softmax(out);
}

export interface Prediction {
  index: number;
  probability: number;
  /** Every class's probability. */
  probabilities: number[];
}

export function predictSplit(
  model: tfl.LayersModel,
  s: Split,
  shape: [number, number, number],
  norm: Norm | null,
  outputsProbabilities: boolean,
  batchSize = 128,
  progress?: (done: number, total: number) => void,
): Prediction[] {
  const preds: Prediction[] = [];
  for (let i = 0; i < s.count; i += batchSize) {
    if (i > 0) progress?.(i, s.count);
    const end = Math.min(s.count, i + batchSize);
    const p = tf.tidy(() => probabilities(model.predict(inputBatch(s, i, end, shape, norm)) as tf.Tensor, outputsProbabilities).arraySync() as number[][]);
    for (const row of p) {
      let best = 0;
      for (let k = 1; k < row.length; k++) if (row[k]! > row[best]!) best = k;
      preds.push({ index: best, probability: row[best]!, probabilities: row });
    }
  }
  return preds;
}

/** A CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
export function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** predictions.csv: file (relative to the folder, '/'-separated), class, index, probability. */
export function predictionsCsv(root: string, files: string[], preds: Prediction[], classes: string[]): string {
  const lines = ['file,class,index,probability'];
  files.forEach((f, i) => {
    const p = preds[i]!;
    lines.push([relative(root, f).split(sep).join('/'), classes[p.index] ?? String(p.index), p.index, p.probability.toFixed(6)].map(csvField).join(','));
  });
  return lines.join('\n') + '\n';
}
