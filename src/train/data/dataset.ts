/**
 * An in-memory image classification dataset: uint8 pixels, channels-last (N, H, W, C), as the
 * official files store them (IDX, CIFAR binary after reordering, decoded PNG/JPEG).
 */
import { readFileSync, statSync } from 'node:fs';

export interface Split {
  /** N*H*W*C bytes, channels-last. */
  images: Uint8Array;
  labels: Uint8Array | Uint16Array;
  count: number;
}

export interface Dataset {
  name: string;
  /** Per-sample shape [C, H, W] (PyTorch order, like the IR). */
  shape: [number, number, number];
  classes: string[];
  train: Split;
  test: Split;
  /** Where the files came from (printed and stored in the run config). */
  source: string;
}

/** A user-facing data problem: the CLI prints the message (no stack trace) and exits 1. */
export class DataError extends Error {}

/** Reads a dataset file whole; a folder, a missing or unreadable file is a DataError naming it. */
export function readDataFile(file: string): Buffer {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new DataError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (st.isDirectory()) throw new DataError(`${file}: is a folder, not a data file`);
  if (!st.isFile()) throw new DataError(`${file}: not a regular file`);
  try {
    return readFileSync(file);
  } catch (e) {
    throw new DataError(`${file}: cannot read: ${(e as Error).message}`);
  }
}

/** The first n samples of a split. */
export function take(s: Split, n: number, pixelsPerImage: number): Split {
  const count = Math.min(n, s.count);
  return { images: s.images.subarray(0, count * pixelsPerImage), labels: s.labels.subarray(0, count), count };
}

/** Samples [start, end) of a split, copied into a new split by index list. */
export function gather(s: Split, idx: ArrayLike<number>, pixelsPerImage: number): Split {
  const images = new Uint8Array(idx.length * pixelsPerImage);
  const labels = new Uint16Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i];
    images.set(s.images.subarray(j * pixelsPerImage, (j + 1) * pixelsPerImage), i * pixelsPerImage);
    labels[i] = s.labels[j];
  }
  return { images, labels, count: idx.length };
}
