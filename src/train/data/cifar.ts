/**
 * CIFAR-10/100 official binary format: fixed-size records, each a label byte (CIFAR-100: coarse
 * then fine label) followed by 3072 pixel bytes stored channel-planar (1024 R, 1024 G, 1024 B).
 */
import { DataError, readDataFile, type Split } from './dataset.js';

const PIXELS = 32 * 32 * 3;

export function parseCifar(buf: Uint8Array, file: string, labelBytes: 1 | 2, classes: number): Split {
  const rec = labelBytes + PIXELS;
  if (buf.length === 0) throw new DataError(`${file}: empty file (expected CIFAR-${classes} records of ${rec} bytes)`);
  if (buf.length % rec !== 0) {
    throw new DataError(
      `${file}: size ${buf.length} is not a multiple of the ${rec}-byte CIFAR record (${Math.floor(buf.length / rec)} whole records and ${buf.length % rec} stray bytes): truncated or not a CIFAR-${classes} binary file`,
    );
  }
  const count = buf.length / rec;
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * rec;
    const label = buf[o + labelBytes - 1]!;
    if (label >= classes) throw new DataError(`${file}: record ${i} has label ${label}, but CIFAR-${classes} has ${classes} classes`);
    labels[i] = label;
    // planar CHW -> channels-last HWC
    for (let p = 0; p < 1024; p++) {
      const d = (i * 1024 + p) * 3;
      images[d] = buf[o + labelBytes + p]!;
      images[d + 1] = buf[o + labelBytes + 1024 + p]!;
      images[d + 2] = buf[o + labelBytes + 2048 + p]!;
    }
  }
  return { images, labels, count };
}

export function readCifarFiles(files: string[], labelBytes: 1 | 2, classes: number): Split {
  const parts = files.map((f) => parseCifar(readDataFile(f), f, labelBytes, classes));
  const count = parts.reduce((a, p) => a + p.count, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let n = 0;
  for (const p of parts) {
    images.set(p.images, n * PIXELS);
    labels.set(p.labels, n);
    n += p.count;
  }
  return { images, labels, count };
}
