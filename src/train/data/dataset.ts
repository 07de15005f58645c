/**
 * An in-memory image classification dataset: uint8 pixels, channels-last (N, H, W, C), as the
 * official files store them (IDX, CIFAR binary after reordering, decoded PNG/JPEG).
 */
import { readBounded } from '../../bind/program.js';
import { UserError } from '../../diagnostics/user-error.js';

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
export class DataError extends UserError {}

/**
 * Bounds on what one data file may make netc allocate (docs/robustness.md). The largest official file,
 * CIFAR-100's train.bin, is 150 MiB; MNIST's training images inflate to 45 MiB.
 */
export const MAX_DATA_FILE_BYTES = 256 * 1024 * 1024;
/** Pixels of one PNG/JPEG image, checked in its header before decoding (4096 x 4096; 64 MiB as RGBA). */
export const MAX_IMAGE_PIXELS = 4096 * 4096;
/** Bytes of one PNG/JPEG file. */
export const MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024;

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;

/**
 * Reads a dataset file whole, at most `maxBytes` of it whatever stat says (a /proc file or a symlink to
 * one is bounded too); a folder, a special, missing, unreadable or too large file is a DataError naming it.
 */
export function readDataFile(file: string, maxBytes = MAX_DATA_FILE_BYTES): Buffer {
  const r = readBounded(file, maxBytes);
  if ('bytes' in r) return r.bytes;
  switch (r.problem) {
    case 'missing':
      throw new DataError(`${file}: cannot read: no such file`);
    case 'directory':
      throw new DataError(`${file}: is a folder, not a data file`);
    case 'special':
      throw new DataError(`${file}: not a regular file`);
    case 'too-large':
      throw new DataError(`${file}: larger than the limit of ${mib(maxBytes)} for one data file`);
    case 'unreadable':
      throw new DataError(`${file}: cannot read: ${r.errno}`);
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
    const j = idx[i]!;
    images.set(s.images.subarray(j * pixelsPerImage, (j + 1) * pixelsPerImage), i * pixelsPerImage);
    labels[i] = s.labels[j]!;
  }
  return { images, labels, count: idx.length };
}
